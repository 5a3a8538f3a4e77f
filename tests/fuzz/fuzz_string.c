/* Fuzz target: nx_codec_string_decoder (strict and replacing) after a line decoder, through
 * the C API.
 *
 * Input: byte 0 strict (bit 0) and the line decoder's fail_fast (bit 1), byte 1 the maximum
 * line length (1..64); the rest is fed in chunks (fuzz_decoder.h). Checked: every message is
 * a string of valid UTF-8; in strict mode it is exactly a line of the input (after the one
 * before it), in replacing mode at most 3 bytes per input byte of a line; only NX_ETOOLONG
 * and, in strict mode, NX_EMALFORMED are reported; nothing is left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static struct {
  int strict;
  size_t max, pos;
} str;

/* Whether `len` bytes are valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += n + 1;
  }
  return 1;
}

static int line_starts(const struct fuzz_decoder *r, size_t at, size_t len) {
  size_t end = at + len;
  if (at > 0 && r->stream[at - 1] != '\n')
    return 0;
  return (end < r->stream_len && r->stream[end] == '\n') ||
         (end + 1 < r->stream_len && r->stream[end] == '\r' && r->stream[end + 1] == '\n');
}

static void check_text(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  FUZZ_CHECK(type == NX_MESSAGE_STRING, "a string decoder produced type %d", type);
  FUZZ_CHECK(valid_utf8(data, len), "a %zu-byte string that is not valid UTF-8", len);
  FUZZ_CHECK(memchr(data, '\n', len) == NULL, "a '\\n' inside a line");
  if (str.strict)
    FUZZ_CHECK(fuzz_find_frame(r, &str.pos, data, len, line_starts),
               "a %zu-byte string that is no line of the input", len);
  else
    FUZZ_CHECK(len <= 3 * str.max, "a %zu-byte string from a line of at most %zu", len,
               str.max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int strict_errors[] = {NX_ETOOLONG, NX_EMALFORMED, 0};
  static const int lossy_errors[] = {NX_ETOOLONG, 0};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  memset(&run, 0, sizeof(run));
  uint8_t flags = fuzz_byte(&in);
  str.strict = flags & 1;
  str.max = 1 + fuzz_byte(&in) % 64;
  str.pos = 0;
  FUZZ_OK(nx_codec_line_based_frame_decoder(str.max, 1, (flags >> 1) & 1, &run.handlers[0]));
  FUZZ_OK(nx_codec_string_decoder(str.strict, &run.handlers[1]));
  run.allowed = str.strict ? strict_errors : lossy_errors;
  run.check = check_text;
  fuzz_decoder_run(&run, &in);
  fuzz_leaks_check(leaks);
  return 0;
}
