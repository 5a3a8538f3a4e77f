/* Fuzz target: nx_codec_fixed_length_frame_decoder through the C API.
 *
 * Input: byte 0 sets the frame length (1..16); the rest is fed in chunks (fuzz_decoder.h).
 * Checked against the exact model: frame k is bytes k*N .. k*N+N-1 of the input, and every
 * whole frame fed comes out (the partial rest is dropped at the end); no error; nothing is
 * left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static size_t frame_length;

static void check_frame(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  size_t k = r->frames - 1;
  FUZZ_CHECK(type == NX_MESSAGE_BUFFER, "a fixed-length decoder produced type %d", type);
  FUZZ_CHECK(len == frame_length, "a %zu-byte frame, not %zu", len, frame_length);
  FUZZ_CHECK((k + 1) * frame_length <= r->stream_len, "frame %zu before its bytes came", k);
  FUZZ_CHECK(memcmp(data, r->stream + k * frame_length, len) == 0,
             "frame %zu differs from the input", k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int allowed[] = {0};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  memset(&run, 0, sizeof(run));
  frame_length = 1 + fuzz_byte(&in) % 16;
  FUZZ_OK(nx_codec_fixed_length_frame_decoder(frame_length, &run.handlers[0]));
  run.allowed = allowed;
  run.check = check_frame;
  fuzz_decoder_run(&run, &in);
  FUZZ_CHECK(run.frames == run.stream_len / frame_length, "%zu frames from %zu bytes",
             run.frames, run.stream_len);
  fuzz_leaks_check(leaks);
  return 0;
}
