/* Fuzz target: nx_codec_delimiter_based_frame_decoder through the C API.
 *
 * Input: byte 0 sets the maximum frame length (1..48), byte 1 the number of delimiters (1..3,
 * bits 0-1), strip_delimiter (bit 2) and fail_fast (bit 3); then each delimiter as a length
 * byte (1..3) and its bytes; the rest is fed in chunks (fuzz_decoder.h). Checked: each
 * frame's content (its delimiter not counted) is at most the maximum and holds no delimiter
 * (the shortest frame wins), an unstripped frame ends with a delimiter, a frame starts the
 * input or follows a delimiter in it, after the frame before it; only NX_ETOOLONG is
 * reported; nothing is left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static struct {
  size_t max, pos, count;
  int strip;
  uint8_t bytes[3][3];
  struct iovec delimiters[3];
} delim;

/* The length of a delimiter that `data` (`len` bytes) starts with, or 0. */
static size_t delimiter_at(const uint8_t *data, size_t len) {
  for (size_t d = 0; d < delim.count; d++)
    if (delim.delimiters[d].iov_len <= len &&
        memcmp(data, delim.delimiters[d].iov_base, delim.delimiters[d].iov_len) == 0)
      return delim.delimiters[d].iov_len;
  return 0;
}

/* A delimiter that ends exactly at `end` of the input. */
static int delimiter_ends_at(const struct fuzz_decoder *r, size_t end) {
  for (size_t d = 0; d < delim.count; d++) {
    size_t n = delim.delimiters[d].iov_len;
    if (n <= end && memcmp(r->stream + end - n, delim.delimiters[d].iov_base, n) == 0)
      return 1;
  }
  return 0;
}

static int frame_starts(const struct fuzz_decoder *r, size_t at, size_t len) {
  if (at > 0 && !delimiter_ends_at(r, at))
    return 0;
  return !delim.strip || delimiter_at(r->stream + at + len, r->stream_len - at - len) > 0;
}

static void check_frame(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  size_t content = len;
  FUZZ_CHECK(type == NX_MESSAGE_BUFFER, "a delimiter decoder produced type %d", type);
  if (!delim.strip) {
    size_t best = 0;
    for (size_t d = 0; d < delim.count; d++) {
      size_t n = delim.delimiters[d].iov_len;
      if (n <= len && memcmp(data + len - n, delim.delimiters[d].iov_base, n) == 0 && n > best)
        best = n;
    }
    FUZZ_CHECK(best > 0, "an unstripped frame that ends with no delimiter");
    content = len - best;
  }
  FUZZ_CHECK(content <= delim.max, "a %zu-byte frame over the maximum %zu", content, delim.max);
  for (size_t at = 0; at < content; at++)
    FUZZ_CHECK(delimiter_at(data + at, content - at) == 0, "a delimiter inside a frame at %zu",
               at);
  FUZZ_CHECK(fuzz_find_frame(r, &delim.pos, data, len, frame_starts),
             "a %zu-byte frame that is not in the input where a frame can be", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int allowed[] = {NX_ETOOLONG, 0};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  memset(&run, 0, sizeof(run));
  delim.max = 1 + fuzz_byte(&in) % 48;
  uint8_t flags = fuzz_byte(&in);
  delim.count = 1 + (flags & 3) % 3;
  delim.strip = (flags >> 2) & 1;
  delim.pos = 0;
  for (size_t d = 0; d < delim.count; d++) {
    size_t n = 1 + fuzz_byte(&in) % 3;
    for (size_t i = 0; i < n; i++)
      delim.bytes[d][i] = fuzz_byte(&in);
    delim.delimiters[d].iov_base = delim.bytes[d];
    delim.delimiters[d].iov_len = n;
  }
  FUZZ_OK(nx_codec_delimiter_based_frame_decoder(delim.max, delim.delimiters, delim.count,
                                                 delim.strip, (flags >> 3) & 1,
                                                 &run.handlers[0]));
  run.allowed = allowed;
  run.check = check_frame;
  fuzz_decoder_run(&run, &in);
  fuzz_leaks_check(leaks);
  return 0;
}
