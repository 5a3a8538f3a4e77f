/* Fuzz target: nx_codec_line_based_frame_decoder through the C API.
 *
 * Input: byte 0 sets the maximum line length (1..48), byte 1 strip_delimiter (bit 0) and
 * fail_fast (bit 1); the rest is fed in chunks (fuzz_decoder.h). Checked: each frame is at
 * most the maximum (its line end not counted), holds no '\n' but its line end, starts a line
 * of the bytes fed and comes after the frame before it; only NX_ETOOLONG is reported; nothing
 * reaches the tail and nothing is left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static struct {
  size_t max, pos;
  int strip;
} line;

/* A frame starts a line, and (stripped) a line end follows it. */
static int line_starts(const struct fuzz_decoder *r, size_t at, size_t len) {
  if (at > 0 && r->stream[at - 1] != '\n')
    return 0;
  if (!line.strip)
    return 1;
  size_t end = at + len;
  return (end < r->stream_len && r->stream[end] == '\n') ||
         (end + 1 < r->stream_len && r->stream[end] == '\r' && r->stream[end + 1] == '\n');
}

static void check_line(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  size_t content = len;
  FUZZ_CHECK(type == NX_MESSAGE_BUFFER, "a line decoder produced type %d", type);
  if (!line.strip) {
    FUZZ_CHECK(len > 0 && data[len - 1] == '\n', "an unstripped frame without its '\\n'");
    content = len >= 2 && data[len - 2] == '\r' ? len - 2 : len - 1;
  }
  FUZZ_CHECK(content <= line.max, "a %zu-byte line over the maximum %zu", content, line.max);
  FUZZ_CHECK(memchr(data, '\n', content) == NULL, "a '\\n' inside a line");
  FUZZ_CHECK(fuzz_find_frame(r, &line.pos, data, len, line_starts),
             "a %zu-byte frame that is no line of the input", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int allowed[] = {NX_ETOOLONG, 0};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  memset(&run, 0, sizeof(run));
  line.max = 1 + fuzz_byte(&in) % 48;
  uint8_t flags = fuzz_byte(&in);
  line.strip = flags & 1;
  line.pos = 0;
  FUZZ_OK(nx_codec_line_based_frame_decoder(line.max, line.strip, (flags >> 1) & 1,
                                            &run.handlers[0]));
  run.allowed = allowed;
  run.check = check_line;
  fuzz_decoder_run(&run, &in);
  fuzz_leaks_check(leaks);
  return 0;
}
