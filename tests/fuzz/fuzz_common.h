/* What every fuzz target in tests/fuzz shares: invariant checks that abort (so libFuzzer
 * records the input as a crash), the check that a return code is 0, positive, or one that
 * nioxide documents, and the leak counters of the testing build.
 *
 * A fuzz target is one file tests/fuzz/fuzz_<name>.c that defines LLVMFuzzerTestOneInput and
 * includes this header; see tests/fuzz/README.md. */
#ifndef NX_FUZZ_COMMON_H
#define NX_FUZZ_COMMON_H

#include <nioxide.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts with the place and a message when `cond` is false: libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                                  \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "fuzz invariant failed at %s:%d (%s): ", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                                            \
      fputc('\n', stderr);                                                                     \
      abort();                                                                                 \
    }                                                                                          \
  } while (0)

/* Checks the return code of an nx_* call and passes it through: NX_EPANIC (a Rust panic
 * caught at the API boundary) is a crash, and so is a negative code that nioxide does not
 * document (nx_err_name knows every NX_E* code and every errno). */
static inline int fuzz_rc(int rc, const char *call) {
  FUZZ_CHECK(rc != NX_EPANIC, "%s returned NX_EPANIC: a panic inside nioxide", call);
  FUZZ_CHECK(rc >= 0 || strcmp(nx_err_name(rc), "UNKNOWN") != 0,
             "%s returned %d, which is no documented error code", call, rc);
  return rc;
}

/* Calls an nx_* function and checks its code with fuzz_rc; the expression's value is the
 * code. */
#define FUZZ_CALL(expr) fuzz_rc((expr), #expr)

/* Calls an nx_* function that must succeed (return 0 or more). */
#define FUZZ_OK(expr)                                                                          \
  do {                                                                                         \
    int fuzz_ok_rc_ = FUZZ_CALL(expr);                                                         \
    FUZZ_CHECK(fuzz_ok_rc_ >= 0, "%s failed: %s", #expr, nx_err_name(fuzz_ok_rc_));           \
  } while (0)

/* The leak counters at the start of an input; fuzz_leaks_check compares them at its end. */
struct fuzz_leaks {
  size_t buffers;
  size_t handles;
};

static inline struct fuzz_leaks fuzz_leaks_start(void) {
  struct fuzz_leaks l = {nx_debug_live_buffers(), nx_debug_live_handles()};
  return l;
}

/* Aborts if a byte buffer or a handle made during the input is still alive. */
static inline void fuzz_leaks_check(struct fuzz_leaks start) {
  size_t buffers = nx_debug_live_buffers(), handles = nx_debug_live_handles();
  FUZZ_CHECK(buffers == start.buffers, "%zu byte buffers alive, %zu before the input", buffers,
             start.buffers);
  FUZZ_CHECK(handles == start.handles, "%zu handles alive, %zu before the input", handles,
             start.handles);
}

/* Reads the input front to back; reading past its end gives zeros (so every input is valid). */
struct fuzz_input {
  const uint8_t *data;
  size_t len, pos;
};

static inline uint8_t fuzz_byte(struct fuzz_input *in) {
  return in->pos < in->len ? in->data[in->pos++] : 0;
}

static inline int fuzz_done(const struct fuzz_input *in) {
  return in->pos >= in->len;
}

/* Takes the next chunk: its length is the next byte (at most `max`, cut at the input's end);
 * sets *len and returns its first byte (inside the input: not a copy). */
static inline const uint8_t *fuzz_chunk(struct fuzz_input *in, size_t max, size_t *len) {
  size_t want = fuzz_byte(in) % (max + 1);
  size_t left = in->len - in->pos;
  const uint8_t *p = in->data + in->pos;
  *len = want < left ? want : left;
  in->pos += *len;
  return p;
}

#endif /* NX_FUZZ_COMMON_H */
