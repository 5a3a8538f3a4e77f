/* What the decoder fuzz targets (fuzz_line, fuzz_delimiter, fuzz_length_field,
 * fuzz_fixed_length, fuzz_string, fuzz_custom_decoder) share: an embedded channel whose
 * pipeline is the decoder under test (one or two built-in handlers) and a C checker after it
 * that receives each frame, hands it to the target's check, counts the errors that reach it
 * (each must be one the target allows) and releases everything; the rest of the input fed in
 * chunks whose lengths are the input's own bytes; the bytes fed kept in order, for the
 * target's model; finish, free, and no buffer or handle left.
 *
 * A target parses its configuration from the input's first bytes, makes its handlers (a
 * configuration the constructor refuses must come back as NX_EINVAL with nothing made), and
 * calls fuzz_decoder_run. */
#ifndef NX_FUZZ_DECODER_H
#define NX_FUZZ_DECODER_H

#include "fuzz_common.h"

#define FUZZ_MAX_STREAM 65536 /* bytes fed per input, at most */
#define FUZZ_MAX_CHUNK 96     /* bytes per read, at most */

/* One input's run of a decoder. */
struct fuzz_decoder {
  /* Set by the target. */
  nx_handler_t *handlers[2]; /* added in order as "d0", "d1" (the second may be NULL) */
  const int *allowed;        /* the error codes that may reach the checker, 0-terminated */
  /* Called for each message that reaches the checker (its type, bytes or text). */
  void (*check)(struct fuzz_decoder *run, int type, const uint8_t *data, size_t len);
  void *target; /* the target's own state */
  /* Kept here. */
  uint8_t stream[FUZZ_MAX_STREAM]; /* every byte fed, in order */
  size_t stream_len;
  size_t frames, errors;
  int finished; /* the end of input was reached (finish ran) */
};

static inline int fuzz_allowed(const struct fuzz_decoder *run, int error) {
  for (const int *e = run->allowed; *e != 0; e++)
    if (*e == error)
      return 1;
  return 0;
}

static int fuzz_checker_read(nx_context_t *ctx, nx_message_t *msg, void *att) {
  struct fuzz_decoder *run = att;
  const uint8_t *data = NULL;
  size_t len = 0;
  int type = FUZZ_CALL(nx_message_type(msg));
  (void)ctx;
  if (type == NX_MESSAGE_BUFFER)
    FUZZ_OK(nx_message_bytes(msg, &data, &len));
  else if (type == NX_MESSAGE_STRING)
    FUZZ_OK(nx_message_string(msg, (const char **)&data, &len));
  else
    FUZZ_CHECK(0, "a message of type %d reached the checker", type);
  run->frames++;
  run->check(run, type, data, len);
  return 0; /* the lent message is released when this returns */
}

static int fuzz_checker_exception(nx_context_t *ctx, int error, void *att) {
  struct fuzz_decoder *run = att;
  (void)ctx;
  FUZZ_CHECK(fuzz_allowed(run, error), "unexpected error %d (%s) reached the checker", error,
             nx_err_name(error));
  run->errors++;
  return 0;
}

static const nx_channel_handler_t fuzz_checker = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = fuzz_checker_read,
    .exception_caught = fuzz_checker_exception,
};

static int fuzz_decoder_init(nx_channel_t *channel, void *att) {
  struct fuzz_decoder *run = att;
  static const char *names[2] = {"d0", "d1"};
  for (int i = 0; i < 2; i++)
    if (run->handlers[i] != NULL) {
      FUZZ_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, names[i],
                                      run->handlers[i], NULL));
      run->handlers[i] = NULL; /* the pipeline's now */
    }
  return nx_pipeline_add_last(channel, "check", &fuzz_checker, run, NULL, NULL);
}

/* Runs the decoder over the rest of `in`; returns once everything is released. */
static inline void fuzz_decoder_run(struct fuzz_decoder *run, struct fuzz_input *in) {
  nx_channel_t *ch;
  nx_message_t *msg;
  FUZZ_OK(nx_embedded_channel_new(fuzz_decoder_init, run, &ch));
  while (!fuzz_done(in) && run->stream_len < FUZZ_MAX_STREAM - FUZZ_MAX_CHUNK) {
    size_t len;
    const uint8_t *chunk = fuzz_chunk(in, FUZZ_MAX_CHUNK, &len);
    if (len == 0)
      continue;
    memcpy(run->stream + run->stream_len, chunk, len);
    run->stream_len += len;
    FUZZ_OK(nx_message_new_bytes(chunk, len, &msg));
    int rc = FUZZ_CALL(nx_embedded_channel_write_inbound(ch, msg));
    FUZZ_CHECK(rc == 0, "write_inbound returned %d: nothing may reach the tail", rc);
    FUZZ_OK(nx_message_release(msg));
  }
  run->finished = 1;
  int rc = FUZZ_CALL(nx_embedded_channel_finish(ch));
  FUZZ_CHECK(rc == 0, "finish returned %d", rc);
  FUZZ_OK(nx_channel_free(ch));
}

/* Whether `frame` (`len` bytes) occurs in the stream at or after `*pos` at a place where
 * `starts(stream, at)` holds; if so, moves `*pos` past it. */
static inline int fuzz_find_frame(const struct fuzz_decoder *run, size_t *pos,
                                  const uint8_t *frame, size_t len,
                                  int (*starts)(const struct fuzz_decoder *, size_t, size_t)) {
  for (size_t at = *pos; at + len <= run->stream_len; at++) {
    if ((len == 0 || memcmp(run->stream + at, frame, len) == 0) && starts(run, at, len)) {
      *pos = at + len;
      return 1;
    }
  }
  return 0;
}

#endif /* NX_FUZZ_DECODER_H */
