/* Fuzz target: the byte-to-message decoder base (nx_codec_byte_to_message_decoder) with a
 * simple C decode, through the C API.
 *
 * The decode reads frames of one length byte then that many bytes, every whole one at the
 * start of its input: odd-length ones announced with nx_decoder_frame (no copy, several per
 * call), an even-length one copied into the call's message (which ends the call); a length
 * byte of 0xff is a corrupted frame (consumed, NX_ECORRUPTED); 0xfe removes the decoder from
 * inside decode (consumed; the bytes after it are then handed on as they are). The input is fed in chunks
 * (fuzz_decoder.h). Checked against the exact model: decode always sees the bytes fed and not
 * consumed yet, in order; the frames are the model's, in order; after the removal the bytes
 * that reach the checker are the rest of the input, in order; one NX_ECORRUPTED per 0xff;
 * the end-of-input call sees the partial frame left; the attachment is freed once; nothing
 * is left alive. */
#include "fuzz_decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_decoder run;
static struct {
  size_t consumed;  /* bytes decode consumed so far (where its input starts) */
  size_t model;     /* where the model's next frame starts */
  size_t corrupted; /* 0xff bytes the model passed */
  int removed;      /* the model passed a 0xfe: the rest comes through unframed */
  int last_calls, freed;
} cd;

static void custom_free(void *att) {
  FUZZ_CHECK(att == &cd, "a foreign attachment");
  cd.freed++;
}

static int custom_decode(nx_context_t *ctx, const uint8_t *data, size_t len, int last,
                         size_t *consumed, nx_message_t **msg_out, void *att) {
  nx_channel_t *channel;
  FUZZ_CHECK(att == &cd && !cd.removed, "decode after removal, or a foreign attachment");
  FUZZ_CHECK(len > 0 && cd.consumed + len <= run.stream_len &&
                 memcmp(data, run.stream + cd.consumed, len) == 0,
             "decode's %zu bytes are not the input from %zu", len, cd.consumed);
  FUZZ_CHECK(*consumed == 0 && *msg_out == NULL, "out-parameters not cleared");
  if (last) {
    FUZZ_CHECK(run.finished, "a last call before the end of input");
    cd.last_calls++;
    return 0;
  }
  if (data[0] == 0xff) {
    *consumed = 1;
    cd.consumed += 1;
    return NX_ECORRUPTED;
  }
  if (data[0] == 0xfe) {
    *consumed = 1;
    cd.consumed += 1;
    FUZZ_OK(nx_context_channel(ctx, &channel));
    FUZZ_OK(nx_pipeline_remove(channel, "d0"));
    return 0;
  }
  /* Whole frames from the start: an odd length is announced (passed on without a copy, as
   * many as there are), an even one is copied into the call's own message, which comes
   * after the announced ones and so ends the call. */
  size_t at = 0;
  int rc = 0;
  while (at < len && data[at] < 0xfe && at + 1 + (size_t)data[at] <= len) {
    size_t n = data[at];
    if (n % 2 == 0) {
      rc = nx_message_new_bytes(data + at + 1, n, msg_out);
      at += 1 + n;
      break;
    }
    FUZZ_OK(nx_decoder_frame(ctx, at + 1, n));
    FUZZ_CHECK(nx_decoder_frame(ctx, at, 1) == NX_EINVAL, "an overlapping frame was taken");
    at += 1 + n;
  }
  FUZZ_CHECK(nx_decoder_frame(ctx, at, len - at + 1) == NX_EINVAL, "a frame past the end");
  *consumed = at;
  cd.consumed += at;
  return rc;
}

static const nx_decoder_t custom = {.size = sizeof(nx_decoder_t), .decode = custom_decode};

/* Moves the model past corrupted bytes and a removal; returns whether a whole frame starts at
 * its position. */
static int model_next(const struct fuzz_decoder *r) {
  while (!cd.removed && cd.model < r->stream_len) {
    uint8_t b = r->stream[cd.model];
    if (b == 0xff) {
      cd.corrupted++;
      cd.model++;
    } else if (b == 0xfe) {
      cd.removed = 1;
      cd.model++;
    } else {
      return cd.model + 1 + b <= r->stream_len;
    }
  }
  return 0;
}

static void check_frame(struct fuzz_decoder *r, int type, const uint8_t *data, size_t len) {
  FUZZ_CHECK(type == NX_MESSAGE_BUFFER, "the custom decoder produced type %d", type);
  if (!cd.removed && model_next(r)) {
    size_t want = r->stream[cd.model];
    FUZZ_CHECK(len == want && memcmp(data, r->stream + cd.model + 1, len) == 0,
               "frame at %zu differs from the model", cd.model);
    cd.model += 1 + want;
    return;
  }
  FUZZ_CHECK(cd.removed, "a %zu-byte message where the model has no frame", len);
  FUZZ_CHECK(len > 0 && cd.model + len <= r->stream_len &&
                 memcmp(data, r->stream + cd.model, len) == 0,
             "bytes after the removal differ from the input at %zu", cd.model);
  cd.model += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int allowed[] = {NX_ECORRUPTED, 0};
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  memset(&run, 0, sizeof(run));
  memset(&cd, 0, sizeof(cd));
  FUZZ_OK(nx_codec_byte_to_message_decoder(&custom, &cd, custom_free, &run.handlers[0]));
  run.allowed = allowed;
  run.check = check_frame;
  fuzz_decoder_run(&run, &in);
  /* What is left: no whole frame the decoder missed; the partial one went to the last call. */
  FUZZ_CHECK(!model_next(&run), "a whole frame at %zu never came out", cd.model);
  if (cd.removed)
    FUZZ_CHECK(cd.model == run.stream_len, "bytes after the removal never came out");
  else
    FUZZ_CHECK(cd.last_calls == (cd.model < run.stream_len), "%d last calls with %zu bytes left",
               cd.last_calls, run.stream_len - cd.model);
  FUZZ_CHECK(run.errors == cd.corrupted, "%zu errors for %zu corrupted bytes", run.errors,
             cd.corrupted);
  FUZZ_CHECK(cd.freed == 1, "the attachment was freed %d times", cd.freed);
  fuzz_leaks_check(leaks);
  return 0;
}
