/*
 * codec-helpers.h: what the codec tests share: an embedded channel made of built-in handlers
 * (nx_handler_t) in order, feeding bytes in chunks, and reading what reached the tail as one
 * "frame|frame|..." string (buffers as bytes, strings as text).
 */
#ifndef NX_CODEC_HELPERS_H
#define NX_CODEC_HELPERS_H

#include "pipeline-helpers.h"

#define C_MAX_HANDLERS 4

/* The handlers an embedded channel starts with, named h0, h1, ... */
struct c_chain {
  nx_handler_t *h[C_MAX_HANDLERS];
  int n;
};

static int c_add_chain(nx_channel_t *channel, void *arg) {
  static const char *names[C_MAX_HANDLERS] = {"h0", "h1", "h2", "h3"};
  struct c_chain *chain = arg;
  for (int i = 0; i < chain->n; i++)
    ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, names[i], chain->h[i],
                                      NULL));
  return 0;
}

/* An embedded channel with the `n` handlers (each then the pipeline's). */
static inline nx_channel_t *c_channel(int n, nx_handler_t *h0, nx_handler_t *h1,
                                      nx_handler_t *h2) {
  struct c_chain chain = {{h0, h1, h2, NULL}, n};
  nx_channel_t *ch;
  ASSERT_OK(nx_embedded_channel_new(c_add_chain, &chain, &ch));
  return ch;
}

/* Writes `len` bytes inbound as one read; returns write_inbound's code (1: messages wait at
 * the tail, 0: none, negative: the exception that reached the tail). */
static inline int c_in(nx_channel_t *ch, const void *data, size_t len) {
  nx_message_t *msg;
  ASSERT_OK(nx_message_new_bytes(data, len, &msg));
  int rc = nx_embedded_channel_write_inbound(ch, msg);
  ASSERT_OK(nx_message_release(msg));
  return rc;
}

/* Writes a C string inbound in chunks of `chunk` bytes; returns the first negative code seen
 * (or 0). */
static inline int c_in_chunks(nx_channel_t *ch, const char *text, size_t len, size_t chunk) {
  int first = 0;
  for (size_t at = 0; at < len; at += chunk) {
    size_t n = len - at < chunk ? len - at : chunk;
    int rc = c_in(ch, text + at, n);
    if (rc < 0 && first == 0)
      first = rc;
  }
  return first;
}

/* Appends the message's bytes or text to `out` (at `*at`, NUL-terminated, bounded). */
static inline void c_append(nx_message_t *msg, char *out, size_t cap, size_t *at) {
  const uint8_t *data;
  size_t len;
  int type = nx_message_type(msg);
  if (type == NX_MESSAGE_STRING)
    ASSERT_OK(nx_message_string(msg, (const char **)&data, &len));
  else {
    ASSERT_EQ(type, NX_MESSAGE_BUFFER);
    ASSERT_OK(nx_message_bytes(msg, &data, &len));
  }
  ASSERT_LT(*at + len + 1, cap);
  memcpy(out + *at, data, len);
  *at += len;
  out[*at] = '\0';
}

/* Takes every message waiting at the tail (inbound) or written (outbound) into `out`,
 * separated by '|'; returns how many there were. */
static inline int c_drain(nx_channel_t *ch, int outbound, char *out, size_t cap) {
  nx_message_t *msg;
  size_t at = 0;
  int count = 0;
  out[0] = '\0';
  for (;;) {
    int rc = outbound ? nx_embedded_channel_read_outbound(ch, &msg)
                      : nx_embedded_channel_read_inbound(ch, &msg);
    ASSERT_GE(rc, 0);
    if (rc == 0)
      break;
    if (count > 0) {
      ASSERT_LT(at + 2, cap);
      out[at++] = '|';
      out[at] = '\0';
    }
    c_append(msg, out, cap, &at);
    ASSERT_OK(nx_message_release(msg));
    count++;
  }
  return count;
}

/* Checks the inbound frames are exactly `expect`. */
#define C_EXPECT_IN(ch, expect)                                                                \
  do {                                                                                         \
    char c_text_[4096];                                                                        \
    c_drain((ch), 0, c_text_, sizeof(c_text_));                                                \
    ASSERT_STR_EQ(c_text_, (expect));                                                          \
  } while (0)

/* Finishes the channel (nothing may be left in either direction, no exception) and frees
 * it. */
static inline void c_finish_free(nx_channel_t *ch) {
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
}

/* The process's resident set in bytes (/proc/self/statm), 0 if unknown. */
static inline size_t c_rss(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose(f);
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif /* NX_CODEC_HELPERS_H */
