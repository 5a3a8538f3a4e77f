/* Fuzz target: nx_codec_length_field_based_frame_decoder through the C API, its configuration
 * taken from the input.
 *
 * Input: byte 0 the length field's offset (0..3), byte 1 its size (1, 2, 3, 4 or 8: bits 0-2),
 * byte order (bit 3) and fail_fast (bit 4), byte 2 the adjustment (a signed byte), byte 3 the
 * bytes to strip (0..11), byte 4 the maximum frame length (1..256); the rest is fed in chunks
 * (fuzz_decoder.h). A configuration the constructor refuses must be refused with NX_EINVAL
 * and nothing made. Checked: each frame with its stripped bytes is at most the maximum and
 * lies in the input after the frame before it; only NX_ETOOLONG and NX_ECORRUPTED are
 * reported; nothing is left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static struct {
  size_t max, strip, pos;
} lf;

static int anywhere(const struct fuzz_decoder *r, size_t at, size_t len) {
  (void)r;
  (void)at;
  (void)len;
  return 1;
}

static void check_frame(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  FUZZ_CHECK(type == NX_MESSAGE_BUFFER, "a length-field decoder produced type %d", type);
  FUZZ_CHECK(len + lf.strip <= lf.max, "a %zu-byte frame (+%zu stripped) over the maximum %zu",
             len, lf.strip, lf.max);
  FUZZ_CHECK(fuzz_find_frame(r, &lf.pos, data, len, anywhere),
             "a %zu-byte frame that is not in the input", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int allowed[] = {NX_ETOOLONG, NX_ECORRUPTED, 0};
  static const size_t sizes[8] = {1, 2, 3, 4, 8, 1, 2, 4};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  nx_length_field_config_t config = {.size = sizeof(config)};
  memset(&run, 0, sizeof(run));
  config.length_field_offset = fuzz_byte(&in) % 4;
  uint8_t flags = fuzz_byte(&in);
  config.length_field_length = sizes[flags & 7];
  config.byte_order = (flags >> 3) & 1 ? NX_BYTE_ORDER_LITTLE_ENDIAN : NX_BYTE_ORDER_BIG_ENDIAN;
  config.fail_fast = (flags >> 4) & 1;
  config.length_adjustment = (int8_t)fuzz_byte(&in);
  config.initial_bytes_to_strip = fuzz_byte(&in) % 12;
  config.max_frame_length = 1 + (size_t)fuzz_byte(&in);
  lf.max = config.max_frame_length;
  lf.strip = config.initial_bytes_to_strip;
  lf.pos = 0;
  int fits = config.length_field_offset + config.length_field_length <= lf.max &&
             lf.strip <= lf.max;
  int rc = FUZZ_CALL(nx_codec_length_field_based_frame_decoder(&config, &run.handlers[0]));
  FUZZ_CHECK(fits ? rc == 0 : rc == NX_EINVAL, "configuration %s, constructor returned %d",
             fits ? "valid" : "invalid", rc);
  if (rc == 0) {
    run.allowed = allowed;
    run.check = check_frame;
    fuzz_decoder_run(&run, &in);
  }
  fuzz_leaks_check(leaks);
  return 0;
}
