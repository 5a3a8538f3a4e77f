/* The string codecs and the user's own codecs in C: string messages (NX_MESSAGE_STRING),
 * nx_codec_string_decoder in replacement and strict modes on malformed UTF-8 (overlong, lone
 * continuation, truncated at the end), nx_codec_string_encoder; a C decoder
 * (nx_codec_byte_to_message_decoder) fed byte by byte and in batches, its errors, its
 * end-of-input call, removed and replaced from inside decode; a C encoder
 * (nx_codec_message_to_byte_encoder) with its byte sink and NX_CODEC_PASS; attachments freed
 * once; and a TCP server with a line decoder, a string decoder and encoder answering a
 * client that writes odd fragments. Every test checks the live buffers return to their
 * start. */
#include "codec-helpers.h"

#include <netinet/tcp.h>

TEST_IMPL(codec_string_messages) {
  size_t live = nx_debug_live_buffers();
  nx_message_t *msg;
  const uint8_t *data;
  const char *text;
  size_t len;
  ASSERT_OK(nx_message_new_string("h\xc3\xa9", 3, &msg));
  ASSERT_EQ(nx_message_type(msg), NX_MESSAGE_STRING);
  ASSERT_OK(nx_message_string(msg, &text, &len));
  ASSERT_EQ(len, 3);
  ASSERT(memcmp(text, "h\xc3\xa9", 3) == 0);
  ASSERT_EQ(nx_message_bytes(msg, &data, &len), NX_EINVAL);
  ASSERT_OK(nx_message_release(msg));
  msg = NULL;
  ASSERT_EQ(nx_message_new_string("\xc0\xaf", 2, &msg), NX_EMALFORMED);
  ASSERT_EQ(nx_message_new_string(NULL, 1, &msg), NX_EINVAL);
  ASSERT_EQ(nx_message_new_string("a", 1, NULL), NX_EINVAL);
  ASSERT_NULL(msg);
  ASSERT_OK(nx_message_new_string(NULL, 0, &msg)); /* the empty string */
  ASSERT_OK(nx_message_string(msg, &text, &len));
  ASSERT_EQ(len, 0);
  ASSERT_OK(nx_message_release(msg));
  msg = t_text("bytes");
  ASSERT_EQ(nx_message_string(msg, &text, &len), NX_EINVAL);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* A line decoder then a string decoder (strict or not). */
static nx_channel_t *string_channel(int strict) {
  nx_handler_t *lines, *strings, *encoder;
  ASSERT_OK(nx_codec_line_based_frame_decoder(64, 1, 0, &lines));
  ASSERT_OK(nx_codec_string_decoder(strict, &strings));
  ASSERT_OK(nx_codec_string_encoder(&encoder));
  return c_channel(3, lines, strings, encoder);
}

TEST_IMPL(codec_string_malformed_utf8) {
  size_t live = nx_debug_live_buffers();
  /* Valid (a split multi-byte character put together by the framing first), overlong "/",
   * lone continuation byte, a sequence cut short at the end of its frame. */
  static const char input[] = "h\xc3\xa9llo\n" "\xc0\xaf\n" "a\x80z\n" "end\xe2\x82\n" "ok\n";
  nx_channel_t *ch = string_channel(0);
  ASSERT_OK(c_in_chunks(ch, input, sizeof(input) - 1, 1));
  C_EXPECT_IN(ch, "h\xc3\xa9llo|\xef\xbf\xbd\xef\xbf\xbd|a\xef\xbf\xbdz|end\xef\xbf\xbd|ok");
  c_finish_free(ch);

  /* Strict: each malformed frame is dropped with NX_EMALFORMED; the others decode. */
  ch = string_channel(1);
  ASSERT_EQ(c_in(ch, "ok1\n\xc0\xaf\n", 7), NX_EMALFORMED);
  ASSERT_EQ(c_in(ch, "a\x80z\n", 4), NX_EMALFORMED);
  ASSERT_EQ(c_in(ch, "end\xe2\x82\n", 6), NX_EMALFORMED);
  ASSERT_EQ(c_in(ch, "ok2\n", 4), 1);
  C_EXPECT_IN(ch, "ok1|ok2");

  /* The encoder: a string goes out as its bytes; a buffer passes by. */
  char text[64];
  nx_message_t *msg;
  ASSERT_OK(nx_message_new_string("h\xc3\xa9\n", 4, &msg));
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  msg = t_text("raw");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 2);
  ASSERT_STR_EQ(text, "h\xc3\xa9\n|raw");
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* --- A C decoder: frames of one length byte then that many bytes ------------------------ */

enum { LEN_CORRUPT = 0xff, LEN_REMOVE = 0xfe, LEN_REPLACE = 0xfd };
enum { MODE_NORMAL, MODE_NO_CONSUME, MODE_OVERCONSUME };

struct lenbyte {
  int mode;
  int calls;
  int last_calls;
  size_t last_len;
  int freed;
};

static void lenbyte_free(void *arg) { ((struct lenbyte *)arg)->freed++; }

static int lenbyte_decode(nx_context_t *ctx, const uint8_t *data, size_t len, int last,
                          size_t *consumed, nx_message_t **msg_out, void *arg) {
  struct lenbyte *s = arg;
  nx_channel_t *channel;
  s->calls++;
  ASSERT_EQ(*consumed, 0);
  ASSERT_NULL(*msg_out);
  ASSERT(len > 0);
  if (last) {
    s->last_calls++;
    s->last_len = len;
    return 0;
  }
  if (s->mode == MODE_NO_CONSUME) {
    ASSERT_OK(nx_message_new_bytes(data, 1, msg_out));
    return 0;
  }
  if (s->mode == MODE_OVERCONSUME) {
    *consumed = len + 1;
    return 0;
  }
  switch (data[0]) {
  case LEN_CORRUPT:
    *consumed = 1;
    return NX_ECORRUPTED;
  case LEN_REMOVE:
    *consumed = 1;
    ASSERT_OK(nx_context_channel(ctx, &channel));
    ASSERT_OK(nx_pipeline_remove(channel, "h0"));
    return 0;
  case LEN_REPLACE: {
    nx_handler_t *lines;
    *consumed = 1;
    ASSERT_OK(nx_context_channel(ctx, &channel));
    ASSERT_OK(nx_codec_line_based_frame_decoder(16, 1, 0, &lines));
    ASSERT_OK(nx_pipeline_replace_handler(channel, "h0", "lines", lines, NULL));
    return 0;
  }
  default:
    break;
  }
  if (len < 1 + (size_t)data[0])
    return 0; /* needs more */
  *consumed = 1 + (size_t)data[0];
  return nx_message_new_bytes(data + 1, data[0], msg_out);
}

static const nx_decoder_t lenbyte_table = {.size = sizeof(nx_decoder_t),
                                           .decode = lenbyte_decode};

/* An embedded channel with a decoder handler over `table` alone. */
static nx_channel_t *decoder_channel(const nx_decoder_t *table, void *arg, nx_free_cb on_free) {
  nx_handler_t *h;
  ASSERT_OK(nx_codec_byte_to_message_decoder(table, arg, on_free, &h));
  return c_channel(1, h, NULL, NULL);
}

static nx_channel_t *lenbyte_channel(struct lenbyte *s, int mode) {
  memset(s, 0, sizeof(*s));
  s->mode = mode;
  return decoder_channel(&lenbyte_table, s, lenbyte_free);
}

TEST_IMPL(codec_custom_decoder) {
  size_t live = nx_debug_live_buffers();
  struct lenbyte s;
  static const char frames[] = "\x03" "abc" "\x00" "\x02" "de" "\x05" "par";
  nx_channel_t *ch;

  /* Byte by byte, then the partial frame goes to the end-of-input call and is dropped. */
  ch = lenbyte_channel(&s, MODE_NORMAL);
  ASSERT_OK(c_in_chunks(ch, frames, sizeof(frames) - 1, 1));
  C_EXPECT_IN(ch, "abc||de");
  ASSERT_EQ(s.freed, 0);
  c_finish_free(ch);
  ASSERT_EQ(s.last_calls, 1);
  ASSERT_EQ(s.last_len, 4);
  ASSERT_EQ(s.freed, 1);

  /* All in one read; an error code goes to the tail after the frames before it, and
   * decoding goes on. */
  static const char bad[] = "\x01" "a" "\xff" "\x01" "b";
  ch = lenbyte_channel(&s, MODE_NORMAL);
  ASSERT_EQ(c_in(ch, bad, sizeof(bad) - 1), NX_ECORRUPTED);
  C_EXPECT_IN(ch, "a|b");
  c_finish_free(ch);
  ASSERT_EQ(s.last_calls, 0);
  ASSERT_EQ(s.freed, 1);

  /* A message produced without consuming: NX_EINVAL, decoding stops for this read. */
  ch = lenbyte_channel(&s, MODE_NO_CONSUME);
  ASSERT_EQ(c_in(ch, "xyz", 3), NX_EINVAL);
  C_EXPECT_IN(ch, "x");
  ASSERT_EQ(s.calls, 1);
  ASSERT_OK(nx_channel_free(ch));

  /* Single decode: one message per read, the rest waits for the next read. */
  static const nx_decoder_t single_table = {
      .size = sizeof(nx_decoder_t), .decode = lenbyte_decode, .flags = NX_DECODER_SINGLE_DECODE};
  memset(&s, 0, sizeof(s));
  s.mode = MODE_NORMAL;
  ch = decoder_channel(&single_table, &s, lenbyte_free);
  static const char three[] = "\x01" "a" "\x01" "b" "\x01" "c";
  ASSERT_EQ(c_in(ch, three, sizeof(three) - 1), 1);
  C_EXPECT_IN(ch, "a");
  ASSERT_EQ(c_in(ch, "\x01" "d", 2), 1);
  C_EXPECT_IN(ch, "b");
  /* The end of input decodes once more (one message), then hands the rest to the last
   * call (which this decoder drops). */
  ASSERT_EQ(nx_embedded_channel_finish(ch), 1);
  C_EXPECT_IN(ch, "c");
  ASSERT_EQ(s.last_calls, 1);
  ASSERT_EQ(s.last_len, 2);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(s.freed, 1);

  /* Consuming more than given: NX_EINVAL, nothing consumed. */
  ch = lenbyte_channel(&s, MODE_OVERCONSUME);
  ASSERT_EQ(c_in(ch, "xyz", 3), NX_EINVAL);
  C_EXPECT_IN(ch, "");
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(s.freed, 1);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_custom_decoder_removed_in_decode) {
  size_t live = nx_debug_live_buffers();
  struct lenbyte s;
  nx_channel_t *ch;
  char names[64];
  size_t len;

  /* Removed inside decode: the frame before goes on, then the rest as one buffer; decode is
   * not called again. */
  static const char removing[] = "\x02" "ab" "\xfe" "rest\x01x";
  ch = lenbyte_channel(&s, MODE_NORMAL);
  ASSERT_EQ(c_in(ch, removing, sizeof(removing) - 1), 1);
  C_EXPECT_IN(ch, "ab|rest\x01x");
  ASSERT_EQ(s.calls, 2);
  ASSERT_EQ(s.freed, 1); /* the removed handler is gone with its attachment */
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "");
  c_finish_free(ch);

  /* Replaced inside decode by a line decoder: the rest is decoded by it. */
  static const char replacing[] = "\x01" "a" "\xfd" "one\ntw";
  ch = lenbyte_channel(&s, MODE_NORMAL);
  ASSERT_EQ(c_in(ch, replacing, sizeof(replacing) - 1), 1);
  ASSERT_EQ(c_in(ch, "o\n", 2), 1);
  C_EXPECT_IN(ch, "a|one|two");
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "lines");
  ASSERT_EQ(s.calls, 2);
  ASSERT_EQ(s.freed, 1);
  c_finish_free(ch);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* --- A C decoder that announces frames (nx_decoder_frame): no copy, several per call --- */

enum { SLICE_NORMAL, SLICE_PAST_CONSUMED, SLICE_WITH_MESSAGE };

struct slicer {
  int mode;
  int calls;
  const uint8_t *starts[16]; /* where each announced frame's bytes were in decode's data */
  size_t announced;
};

static int slicer_decode(nx_context_t *ctx, const uint8_t *data, size_t len, int last,
                         size_t *consumed, nx_message_t **msg_out, void *arg) {
  struct slicer *s = arg;
  size_t at = 0;
  (void)last;
  s->calls++;
  /* Refused announcements: past the end, overflowing, another context. */
  ASSERT_EQ(nx_decoder_frame(ctx, len, 1), NX_EINVAL);
  ASSERT_EQ(nx_decoder_frame(ctx, 1, SIZE_MAX), NX_EINVAL);
  ASSERT_EQ(nx_decoder_frame(NULL, 0, 0), NX_EINVAL);
  /* Every whole frame (a length byte, then that many bytes) in this call. */
  while (at < len && at + 1 + (size_t)data[at] <= len) {
    size_t n = data[at];
    ASSERT_OK(nx_decoder_frame(ctx, at + 1, n));
    ASSERT_LT(s->announced, 16);
    s->starts[s->announced++] = data + at + 1;
    at += 1 + n;
    /* A frame may not start before the end of the previous one. */
    ASSERT_EQ(nx_decoder_frame(ctx, at - 1, 0), NX_EINVAL);
  }
  *consumed = s->mode == SLICE_PAST_CONSUMED && at > 0 ? at - 1 : at;
  if (s->mode == SLICE_WITH_MESSAGE && at > 0)
    return nx_message_new_bytes("!", 1, msg_out); /* passed on after the frames */
  return 0;
}

static const nx_decoder_t slicer_table = {.size = sizeof(nx_decoder_t),
                                          .decode = slicer_decode};

static nx_channel_t *slicer_channel(struct slicer *s, int mode) {
  *s = (struct slicer){.mode = mode};
  return decoder_channel(&slicer_table, s, NULL);
}

TEST_IMPL(codec_custom_decoder_frames) {
  size_t live = nx_debug_live_buffers();
  struct slicer s;
  nx_channel_t *ch;
  nx_message_t *msg;
  const uint8_t *bytes;
  size_t len;
  static const char one_read[] = "\x03" "abc" "\x00" "\x02" "de" "\x01";

  /* Outside a decode call there is nothing to announce to. */
  ASSERT_EQ(nx_decoder_frame(NULL, 0, 0), NX_EINVAL);

  /* Three frames in one call, each the very bytes decode was given (no copy), in order; the
   * partial frame waits for the next read. */
  ch = slicer_channel(&s, SLICE_NORMAL);
  ASSERT_EQ(c_in(ch, one_read, sizeof(one_read) - 1), 1);
  ASSERT_EQ(s.calls, 2); /* the second finds only the partial frame */
  ASSERT_EQ(s.announced, 3);
  static const char *const want[] = {"abc", "", "de"};
  for (size_t i = 0; i < 3; i++) {
    ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &msg), 1);
    ASSERT_OK(nx_message_bytes(msg, &bytes, &len));
    ASSERT_EQ(len, strlen(want[i]));
    ASSERT(memcmp(bytes, want[i], len) == 0);
    if (len > 0)
      ASSERT_PTR_EQ(bytes, s.starts[i]);
    ASSERT_OK(nx_message_release(msg));
  }
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &msg), 0);
  /* The rest of the partial frame, byte by byte: the frame spans two reads. */
  ASSERT_EQ(c_in(ch, "x", 1), 1);
  C_EXPECT_IN(ch, "x");
  ASSERT_EQ(c_in_chunks(ch, "\x04" "wxyz" "\x01" "q", 7, 1), 0);
  C_EXPECT_IN(ch, "wxyz|q");
  c_finish_free(ch);

  /* Frames and a message of its own: the frames first. */
  ch = slicer_channel(&s, SLICE_WITH_MESSAGE);
  ASSERT_EQ(c_in(ch, "\x01" "a" "\x01" "b", 4), 1);
  C_EXPECT_IN(ch, "a|b|!");
  c_finish_free(ch);

  /* A frame past the consumed bytes: NX_EINVAL, that call's frames dropped, nothing
   * consumed. */
  ch = slicer_channel(&s, SLICE_PAST_CONSUMED);
  ASSERT_EQ(c_in(ch, "\x02" "ab", 3), NX_EINVAL);
  C_EXPECT_IN(ch, "");
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

TEST_IMPL(codec_custom_table_errors) {
  size_t live = nx_debug_live_buffers();
  nx_handler_t *h = NULL;
  int freed = 0;
  nx_decoder_t no_decode = {.size = sizeof(nx_decoder_t), .decode = NULL};
  nx_decoder_t small = {.size = sizeof(size_t), .decode = lenbyte_decode};
  nx_decoder_t unknown_flag = {.size = sizeof(nx_decoder_t), .decode = lenbyte_decode, .flags = 2};
  nx_encoder_t no_encode = {.size = sizeof(nx_encoder_t), .encode = NULL};
  ASSERT_EQ(nx_codec_byte_to_message_decoder(NULL, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_byte_to_message_decoder(&no_decode, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_byte_to_message_decoder(&small, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_byte_to_message_decoder(&unknown_flag, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_byte_to_message_decoder(&lenbyte_table, &freed, t_count_free, NULL),
            NX_EINVAL);
  ASSERT_EQ(nx_codec_message_to_byte_encoder(NULL, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_EQ(nx_codec_message_to_byte_encoder(&no_encode, &freed, t_count_free, &h), NX_EINVAL);
  ASSERT_NULL(h);
  ASSERT_EQ(freed, 0); /* a failed call frees nothing */

  /* Made and freed unadded: the attachment is freed once, then. */
  ASSERT_OK(nx_codec_byte_to_message_decoder(&lenbyte_table, &freed, t_count_free, &h));
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_handler_free(h));
  ASSERT_EQ(freed, 1);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* --- A C encoder: a string goes out as "<len>:" then its bytes then "\n" ----------------- */

struct framer {
  int freed;
  int fail;
  nx_byte_sink_t *kept; /* a sink kept past its call (a misuse the test makes) */
};

static void framer_free(void *arg) { ((struct framer *)arg)->freed++; }

static int framer_encode(nx_context_t *ctx, nx_message_t *msg, nx_byte_sink_t *sink,
                         void *arg) {
  struct framer *f = arg;
  const char *data;
  size_t len;
  char head[32];
  (void)ctx;
  f->kept = sink;
  if (nx_message_type(msg) == NX_MESSAGE_BUFFER) {
    ASSERT_OK(nx_byte_sink_append(sink, "dropped", 7)); /* what a pass appended is dropped */
    return NX_CODEC_PASS;
  }
  ASSERT_EQ(nx_message_type(msg), NX_MESSAGE_STRING);
  if (f->fail)
    return NX_ECORRUPTED;
  ASSERT_OK(nx_message_string(msg, &data, &len));
  int n = snprintf(head, sizeof(head), "%zu:", len);
  ASSERT_OK(nx_byte_sink_append(sink, head, (size_t)n));
  ASSERT_OK(nx_byte_sink_append(sink, data, len));
  ASSERT_OK(nx_byte_sink_append(sink, NULL, 0));
  ASSERT_EQ(nx_byte_sink_append(sink, NULL, 1), NX_EINVAL);
  ASSERT_EQ(nx_byte_sink_append_message(sink, msg), NX_EINVAL); /* not a buffer */
  nx_message_t *tail = t_text("\n");
  ASSERT_OK(nx_byte_sink_append_message(sink, tail)); /* shared, a buffer of its own */
  ASSERT_OK(nx_message_release(tail));
  return 0;
}

static const nx_encoder_t framer_table = {.size = sizeof(nx_encoder_t),
                                          .encode = framer_encode};

TEST_IMPL(codec_custom_encoder) {
  size_t live = nx_debug_live_buffers();
  struct framer f = {0, 0, NULL};
  nx_handler_t *h;
  nx_channel_t *ch;
  nx_message_t *msg;
  char text[128];
  ASSERT_OK(nx_codec_message_to_byte_encoder(&framer_table, &f, framer_free, &h));
  ch = c_channel(1, h, NULL, NULL);

  ASSERT_OK(nx_message_new_string("hey", 3, &msg));
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 2);
  ASSERT_STR_EQ(text, "3:hey|\n");
  /* The sink is closed once the callback returned. */
  ASSERT_EQ(nx_byte_sink_append(f.kept, "x", 1), NX_EBADHANDLE);

  /* A buffer passes by unchanged. */
  nx_message_t *raw = t_text("raw");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, raw), 1);
  ASSERT_OK(nx_message_release(raw));
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 1);
  ASSERT_STR_EQ(text, "raw");

  /* A failing encode fails the write; nothing goes out. */
  f.fail = 1;
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), NX_ECORRUPTED);
  ASSERT_EQ(c_drain(ch, 1, text, sizeof(text)), 0);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(f.freed, 0);
  c_finish_free(ch);
  ASSERT_EQ(f.freed, 1);
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* --- Over TCP: a line server answering each line with its length in characters ---------- */

static int lengths_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  const char *data;
  size_t len, chars = 0;
  char answer[32];
  nx_message_t *reply;
  (void)arg;
  ASSERT_OK(nx_message_string(msg, &data, &len));
  for (size_t i = 0; i < len; i++)
    chars += (data[i] & 0xc0) != 0x80;
  int n = snprintf(answer, sizeof(answer), "%zu\n", chars);
  ASSERT_OK(nx_message_new_string(answer, (size_t)n, &reply));
  int rc = nx_context_write(ctx, reply, NULL);
  ASSERT_OK(nx_message_release(reply));
  return rc;
}

static int lengths_complete(nx_context_t *ctx, void *arg) {
  (void)arg;
  return nx_context_flush(ctx);
}

static const nx_channel_handler_t lengths = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = lengths_read,
    .channel_read_complete = lengths_complete,
};

static int add_line_server(nx_channel_t *channel, void *arg) {
  nx_handler_t *lines, *strings, *encoder;
  (void)arg;
  ASSERT_OK(nx_codec_line_based_frame_decoder(64, 1, 0, &lines));
  ASSERT_OK(nx_codec_string_decoder(0, &strings));
  ASSERT_OK(nx_codec_string_encoder(&encoder));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "lines", lines, NULL));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "strings", strings, NULL));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "encoder", encoder, NULL));
  return nx_pipeline_add_last(channel, "lengths", &lengths, NULL, NULL, NULL);
}

TEST_IMPL(codec_tcp_line_server) {
  size_t live = nx_debug_live_buffers();
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_channel_t *server;
  nx_promise_t *bound;
  struct sockaddr_storage ss;
  socklen_t len;
  static const char request[] = "h\xc3\xa9llo\r\n\nabc\nwor" "ld\n";
  static const char expect[] = "5\n0\n3\n5\n";
  char got[sizeof(expect)];
  size_t have = 0;

  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, add_line_server, NULL, NULL));
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_OK(connect(fd, (struct sockaddr *)&ss, len));
  int one = 1;
  ASSERT_OK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
  /* Odd fragments: 1, 2, 3, ... bytes, a pause between them so they arrive apart. */
  for (size_t at = 0, step = 1; at < sizeof(request) - 1; at += step, step++) {
    size_t n = sizeof(request) - 1 - at < step ? sizeof(request) - 1 - at : step;
    ASSERT_EQ(send(fd, request + at, n, MSG_NOSIGNAL), (ssize_t)n);
    t_sleep_ms(2);
  }
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (have < sizeof(expect) - 1 && t_now_ms() < deadline) {
    if (t_poll(fd, POLLIN, 100) & POLLIN) {
      ssize_t n = recv(fd, got + have, sizeof(expect) - 1 - have, 0);
      ASSERT_GT(n, 0);
      have += (size_t)n;
    }
  }
  got[have] = '\0';
  ASSERT_STR_EQ(got, expect);
  ASSERT_OK(close(fd));

  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}
