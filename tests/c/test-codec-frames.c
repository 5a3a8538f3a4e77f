/* The framing decoders in C (nx_codec_line_based_frame_decoder, _delimiter_, _length_field_,
 * _fixed_length_, and the length-field prepender) on embedded channels: input fragmented byte
 * by byte, many frames per read, frames of exactly the maximum, too-long frames in both fail
 * modes (10 MiB without a delimiter keeping memory bounded), a 2^31 - 1 length field with a
 * 1 MiB maximum, negative and corrupted length fields, partial frames at the end of input,
 * and configurations refused with NX_EINVAL. Every test checks the live buffers return to
 * their start. */
#include "codec-helpers.h"

static nx_handler_t *line(size_t max, int strip, int fail_fast) {
  nx_handler_t *h;
  ASSERT_OK(nx_codec_line_based_frame_decoder(max, strip, fail_fast, &h));
  return h;
}

TEST_IMPL(codec_line_fragments_and_batches) {
  size_t live = nx_debug_live_buffers();
  const char *text = "abc\r\ndef\n\nghi\r\n";
  nx_channel_t *ch;

  /* Byte by byte: the line ends (also "\r" "\n" in two reads) are found across reads. */
  ch = c_channel(1, line(64, 1, 0), NULL, NULL);
  ASSERT_OK(c_in_chunks(ch, text, strlen(text), 1));
  C_EXPECT_IN(ch, "abc|def||ghi");
  c_finish_free(ch);

  /* Many frames in one read, delimiters kept. */
  ch = c_channel(1, line(64, 0, 0), NULL, NULL);
  ASSERT_EQ(c_in(ch, text, strlen(text)), 1);
  C_EXPECT_IN(ch, "abc\r\n|def\n|\n|ghi\r\n");
  c_finish_free(ch);

  /* Odd chunks of 3. */
  ch = c_channel(1, line(64, 1, 1), NULL, NULL);
  ASSERT_OK(c_in_chunks(ch, text, strlen(text), 3));
  C_EXPECT_IN(ch, "abc|def||ghi");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_line_maximum_and_too_long) {
  size_t live = nx_debug_live_buffers();
  nx_channel_t *ch;

  /* Exactly the maximum decodes; one more byte is too long, and the next line decodes. */
  ch = c_channel(1, line(4, 1, 0), NULL, NULL);
  ASSERT_EQ(c_in(ch, "abcd\n", 5), 1);
  C_EXPECT_IN(ch, "abcd");
  ASSERT_EQ(c_in(ch, "abcde\nok\n", 9), NX_ETOOLONG);
  C_EXPECT_IN(ch, "ok");
  c_finish_free(ch);

  /* Not fail fast: the error comes once the long line ended, once. */
  ch = c_channel(1, line(4, 1, 0), NULL, NULL);
  ASSERT_EQ(c_in(ch, "abcdefgh", 8), 0);
  ASSERT_EQ(c_in(ch, "ijkl", 4), 0);
  ASSERT_EQ(c_in(ch, "mn\nok\n", 6), NX_ETOOLONG);
  C_EXPECT_IN(ch, "ok");
  c_finish_free(ch);

  /* Fail fast: the error comes as soon as the maximum is passed, once; the rest of the
   * long line is dropped silently. */
  ch = c_channel(1, line(4, 1, 1), NULL, NULL);
  ASSERT_EQ(c_in(ch, "abcdefgh", 8), NX_ETOOLONG);
  ASSERT_EQ(c_in(ch, "ijkl", 4), 0);
  ASSERT_EQ(c_in(ch, "mn\nok\n", 6), 1);
  C_EXPECT_IN(ch, "ok");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* 10 MiB without a line end, in 64 KiB reads: discarded as it arrives. The same read message
 * is written each time (write_inbound does not consume it), so the test itself allocates
 * nothing per read: growth would be the decoder's. */
static void ten_mib_without_delimiter(nx_handler_t *decoder, int fail_fast, const char *end) {
  size_t live = nx_debug_live_buffers();
  size_t chunk = 64 * 1024, total = 10 * 1024 * 1024;
  char *data = malloc(chunk);
  nx_message_t *msg;
  int errors = 0;
  ASSERT_NOT_NULL(data);
  memset(data, 'x', chunk);
  ASSERT_OK(nx_message_new_bytes(data, chunk, &msg));
  free(data);
  nx_channel_t *ch = c_channel(1, decoder, NULL, NULL);
  size_t rss_before = c_rss();
  for (size_t sent = 0; sent < total; sent += chunk) {
    int rc = nx_embedded_channel_write_inbound(ch, msg);
    if (rc == NX_ETOOLONG)
      errors++;
    else
      ASSERT_EQ(rc, 0);
    /* The read message, and at most a piece of it the decoder holds. */
    ASSERT_LE(nx_debug_live_buffers(), live + 2);
  }
  size_t rss_after = c_rss();
  /* Held whole, 10 MiB would show; allow 4 MiB of noise (allocator, lazily mapped pages). */
  if (rss_before > 0 && rss_after > rss_before)
    ASSERT_LT(rss_after - rss_before, 4 * 1024 * 1024);
  ASSERT_EQ(errors, fail_fast ? 1 : 0);
  ASSERT_EQ(c_in(ch, end, strlen(end)), fail_fast ? 1 : NX_ETOOLONG);
  C_EXPECT_IN(ch, "ok");
  c_finish_free(ch);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_debug_live_buffers(), live);
}

TEST_IMPL(codec_line_ten_mib_bounded) {
  struct iovec delimiters[2] = {{(void *)"::", 2}, {(void *)";", 1}};
  nx_handler_t *h;
  ten_mib_without_delimiter(line(1024, 1, 0), 0, "\nok\n");
  ten_mib_without_delimiter(line(1024, 1, 1), 1, "\nok\n");
  ASSERT_OK(nx_codec_delimiter_based_frame_decoder(1024, delimiters, 2, 1, 1, &h));
  ten_mib_without_delimiter(h, 1, "::ok;");
  ASSERT_OK(nx_codec_delimiter_based_frame_decoder(1024, delimiters, 2, 1, 0, &h));
  ten_mib_without_delimiter(h, 0, ";ok::");
  return 0;
}

TEST_IMPL(codec_delimiter_frames) {
  size_t live = nx_debug_live_buffers();
  struct iovec delimiters[2] = {{(void *)"::", 2}, {(void *)";", 1}};
  const char *text = "x;y::z;long-frame;ok::";
  nx_handler_t *h;
  nx_channel_t *ch;

  /* The shortest frame wins; delimiters split across reads are found. */
  ASSERT_OK(nx_codec_delimiter_based_frame_decoder(5, delimiters, 2, 1, 1, &h));
  ch = c_channel(1, h, NULL, NULL);
  ASSERT_EQ(c_in_chunks(ch, text, strlen(text), 1), NX_ETOOLONG);
  C_EXPECT_IN(ch, "x|y|z|ok");
  c_finish_free(ch);

  ASSERT_OK(nx_codec_delimiter_based_frame_decoder(5, delimiters, 2, 0, 0, &h));
  ch = c_channel(1, h, NULL, NULL);
  ASSERT_EQ(c_in(ch, text, strlen(text)), NX_ETOOLONG);
  C_EXPECT_IN(ch, "x;|y::|z;|ok::");
  c_finish_free(ch);

  /* "\n" and "\r\n": as the line decoder. */
  struct iovec lines[2] = {{(void *)"\r\n", 2}, {(void *)"\n", 1}};
  ASSERT_OK(nx_codec_delimiter_based_frame_decoder(8, lines, 2, 1, 1, &h));
  ch = c_channel(1, h, NULL, NULL);
  ASSERT_OK(c_in_chunks(ch, "a\r\nb\nc\r\n", 8, 1));
  C_EXPECT_IN(ch, "a|b|c");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

static nx_handler_t *length_field(size_t max, size_t offset, size_t field, int64_t adjust,
                                  size_t strip, int order, int fail_fast) {
  nx_length_field_config_t config = {
      .size = sizeof(config),
      .max_frame_length = max,
      .length_field_offset = offset,
      .length_field_length = field,
      .length_adjustment = adjust,
      .initial_bytes_to_strip = strip,
      .byte_order = order,
      .fail_fast = fail_fast,
  };
  nx_handler_t *h;
  ASSERT_OK(nx_codec_length_field_based_frame_decoder(&config, &h));
  return h;
}

TEST_IMPL(codec_length_field_frames) {
  size_t live = nx_debug_live_buffers();
  nx_channel_t *ch;
  /* Two frames with a 2-byte big-endian length, the header stripped, byte by byte. */
  static const char be[] = "\x00\x03" "abc" "\x00\x00" "\x00\x02" "de";
  ch = c_channel(1, length_field(16, 0, 2, 0, 2, NX_BYTE_ORDER_BIG_ENDIAN, 1), NULL, NULL);
  ASSERT_OK(c_in_chunks(ch, be, sizeof(be) - 1, 1));
  C_EXPECT_IN(ch, "abc||de");
  c_finish_free(ch);

  /* Little endian, 4 bytes after a 1-byte tag, the field counting the whole frame
   * (adjustment -5), the header stripped; many frames in one read. */
  static const char le[] = "T\x07\x00\x00\x00" "xy" "U\x05\x00\x00\x00" "V\x06\x00\x00\x00" "z";
  ch = c_channel(1, length_field(16, 1, 4, -5, 5, NX_BYTE_ORDER_LITTLE_ENDIAN, 1), NULL, NULL);
  ASSERT_EQ(c_in(ch, le, sizeof(le) - 1), 1);
  C_EXPECT_IN(ch, "xy||z");
  c_finish_free(ch);

  /* Exactly the maximum (a 1-byte field: 1 + 4 = 5), then one over (skipped, reported), then
   * a frame that decodes. */
  static const char max[] = "\x04" "abcd" "\x05" "vwxyz" "\x01" "k";
  ch = c_channel(1, length_field(5, 0, 1, 0, 1, NX_BYTE_ORDER_BIG_ENDIAN, 1), NULL, NULL);
  ASSERT_EQ(c_in(ch, max, sizeof(max) - 1), NX_ETOOLONG);
  C_EXPECT_IN(ch, "abcd|k");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_length_field_too_long_and_corrupted) {
  size_t live = nx_debug_live_buffers();
  nx_channel_t *ch;

  /* 2^31 - 1 with a 1 MiB maximum: reported at once (fail fast), nothing allocated for it;
   * the bytes that follow are the frame's and are dropped. */
  static const char huge[] = "\x7f\xff\xff\xff" "some";
  ch = c_channel(1, length_field(1 << 20, 0, 4, 0, 4, NX_BYTE_ORDER_BIG_ENDIAN, 1), NULL, NULL);
  size_t rss_before = c_rss();
  ASSERT_EQ(c_in(ch, huge, sizeof(huge) - 1), NX_ETOOLONG);
  ASSERT_EQ(c_in(ch, "more", 4), 0);
  ASSERT_LE(nx_debug_live_buffers(), live + 1);
  size_t rss_after = c_rss();
  if (rss_before > 0 && rss_after > rss_before)
    ASSERT_LT(rss_after - rss_before, 4 * 1024 * 1024);
  C_EXPECT_IN(ch, "");
  ASSERT_OK(nx_channel_free(ch)); /* the rest of the frame never comes */

  /* Not fail fast: reported once the too-long frame has been skipped, then the next decodes. */
  static const char skip[] = "\x00\x06" "ab" "cdef" "\x00\x02" "ok";
  ch = c_channel(1, length_field(6, 0, 2, 0, 2, NX_BYTE_ORDER_BIG_ENDIAN, 0), NULL, NULL);
  ASSERT_EQ(c_in(ch, skip, 4), 0);
  ASSERT_EQ(c_in(ch, skip + 4, sizeof(skip) - 1 - 4), NX_ETOOLONG);
  C_EXPECT_IN(ch, "ok");
  c_finish_free(ch);

  /* A negative 8-byte field: corrupted, the header skipped, the next frame decodes. */
  static const char neg[] = "\xff\xff\xff\xff\xff\xff\xff\xfe"
                            "\x00\x00\x00\x00\x00\x00\x00\x02" "hi";
  ch = c_channel(1, length_field(64, 0, 8, 0, 8, NX_BYTE_ORDER_BIG_ENDIAN, 1), NULL, NULL);
  ASSERT_EQ(c_in(ch, neg, sizeof(neg) - 1), NX_ECORRUPTED);
  C_EXPECT_IN(ch, "hi");
  c_finish_free(ch);

  /* An adjustment that makes the frame shorter than its header: corrupted. */
  static const char shorter[] = "\x01" "\x03";
  ch = c_channel(1, length_field(64, 0, 1, -3, 1, NX_BYTE_ORDER_BIG_ENDIAN, 1), NULL, NULL);
  ASSERT_EQ(c_in(ch, shorter, 1), NX_ECORRUPTED);
  ASSERT_EQ(c_in(ch, shorter + 1, 1), 1); /* 3 - 3 + 1: a frame of 1 byte, stripped: "" */
  C_EXPECT_IN(ch, "");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_fixed_length_and_partial_end) {
  size_t live = nx_debug_live_buffers();
  nx_handler_t *h;
  nx_channel_t *ch;
  ASSERT_OK(nx_codec_fixed_length_frame_decoder(3, &h));
  ch = c_channel(1, h, NULL, NULL);
  ASSERT_OK(c_in_chunks(ch, "abcdefgh", 8, 2));
  C_EXPECT_IN(ch, "abc|def");
  /* "gh" is a partial frame: dropped at the end of input. */
  c_finish_free(ch);

  /* A line without its end at the end of input: dropped, nothing passed on. */
  ch = c_channel(1, line(16, 1, 0), NULL, NULL);
  ASSERT_EQ(c_in(ch, "one\ntwo", 7), 1);
  C_EXPECT_IN(ch, "one");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_length_field_prepender) {
  size_t live = nx_debug_live_buffers();
  nx_handler_t *h, *d;
  nx_channel_t *ch;
  char text[256];
  nx_message_t *msg;

  /* A 2-byte header, then the message (not copied); the decoder reads it back. */
  ASSERT_OK(nx_codec_length_field_prepender(2, NX_BYTE_ORDER_BIG_ENDIAN, 0, 0, &h));
  d = length_field(64, 0, 2, 0, 2, NX_BYTE_ORDER_BIG_ENDIAN, 1);
  ch = c_channel(2, d, h, NULL);
  msg = t_text("hello");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 2);
  ASSERT(memcmp(text, "\x00\x05|hello", 8) == 0);
  ASSERT_EQ(c_in(ch, "\x00\x05hello", 7), 1);
  C_EXPECT_IN(ch, "hello");
  c_finish_free(ch);

  /* Little endian, counting the field itself, with an adjustment. */
  ASSERT_OK(nx_codec_length_field_prepender(4, NX_BYTE_ORDER_LITTLE_ENDIAN, 10, 1, &h));
  ch = c_channel(1, h, NULL, NULL);
  msg = t_text("ab");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 2);
  ASSERT(memcmp(text, "\x10\x00\x00\x00|ab", 7) == 0);
  c_finish_free(ch);

  /* A length that does not fit fails the write with NX_EINVAL; nothing is written. */
  ASSERT_OK(nx_codec_length_field_prepender(1, NX_BYTE_ORDER_BIG_ENDIAN, 255, 0, &h));
  ch = c_channel(1, h, NULL, NULL);
  msg = t_text("a");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), NX_EINVAL);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 0);
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_bad_configurations) {
  nx_handler_t *h = (nx_handler_t *)(uintptr_t)1, *sentinel = h;
  uint64_t before, after;
  struct iovec ok[1] = {{(void *)";", 1}};
  struct iovec empty[2] = {{(void *)";", 1}, {(void *)"", 0}};
  struct iovec null_data[1] = {{NULL, 2}};
  nx_length_field_config_t c = {.size = sizeof(c),
                                .max_frame_length = 16,
                                .length_field_length = 2,
                                .byte_order = NX_BYTE_ORDER_BIG_ENDIAN};
  nx_length_field_config_t bad;
  size_t live = nx_debug_live_buffers();
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &before));

  ASSERT_EQ(nx_codec_line_based_frame_decoder(0, 1, 0, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_line_based_frame_decoder(8, 1, 0, NULL), NX_EINVAL);
  ASSERT_EQ(nx_codec_delimiter_based_frame_decoder(0, ok, 1, 1, 1, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_delimiter_based_frame_decoder(8, ok, 0, 1, 1, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_delimiter_based_frame_decoder(8, NULL, 1, 1, 1, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_delimiter_based_frame_decoder(8, empty, 2, 1, 1, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_delimiter_based_frame_decoder(8, null_data, 1, 1, 1, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_fixed_length_frame_decoder(0, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(NULL, &h), NX_EINVAL);
  bad = c;
  bad.size = sizeof(size_t) * 2;
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.max_frame_length = 0;
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.length_field_length = 5;
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.length_field_offset = 15; /* 15 + 2 > 16 */
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.length_field_offset = SIZE_MAX; /* overflows */
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.initial_bytes_to_strip = 17;
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  bad = c;
  bad.byte_order = 2;
  ASSERT_EQ(nx_codec_length_field_based_frame_decoder(&bad, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_length_field_prepender(0, NX_BYTE_ORDER_BIG_ENDIAN, 0, 0, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_length_field_prepender(2, -1, 0, 0, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_string_decoder(0, NULL), NX_EINVAL);
  ASSERT_EQ(nx_codec_string_encoder(NULL), NX_EINVAL);
  ASSERT_PTR_EQ(h, sentinel); /* never written on error */
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &after));
  ASSERT_EQ(after, before);

  /* A good one made and freed unadded. */
  ASSERT_OK(nx_codec_length_field_based_frame_decoder(&c, &h));
  ASSERT_OK(nx_handler_free(h));
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &after));
  ASSERT_EQ(after, before);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}
