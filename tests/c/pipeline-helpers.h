/*
 * pipeline-helpers.h: what the pipeline tests share: an event log, a recording handler that
 * passes every event on, an echo handler (Netty's EchoServerHandler), byte sinks that check
 * what they receive, and bounded waits on channels.
 */
#ifndef NX_PIPELINE_HELPERS_H
#define NX_PIPELINE_HELPERS_H

#include "loop-helpers.h"

#include <sys/un.h>

/* An event log: names separated by spaces, appended under a lock (any thread). */
struct t_log {
  pthread_mutex_t lock;
  char text[8192];
};

static inline void t_log_init(struct t_log *log) {
  pthread_mutex_init(&log->lock, NULL);
  log->text[0] = '\0';
}

static inline void t_log_add(struct t_log *log, const char *event) {
  pthread_mutex_lock(&log->lock);
  size_t used = strlen(log->text);
  snprintf(log->text + used, sizeof(log->text) - used, "%s%s", used ? " " : "", event);
  pthread_mutex_unlock(&log->lock);
}

/* A copy of the log's text. */
static inline void t_log_read(struct t_log *log, char *out, size_t cap) {
  pthread_mutex_lock(&log->lock);
  snprintf(out, cap, "%s", log->text);
  pthread_mutex_unlock(&log->lock);
}

/* Counts occurrences of `event` as a whole word in the log. */
static inline int t_log_count(struct t_log *log, const char *event) {
  char text[8192];
  int n = 0;
  size_t len = strlen(event);
  t_log_read(log, text, sizeof(text));
  for (const char *p = text; (p = strstr(p, event)) != NULL; p += len)
    if ((p == text || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
      n++;
  return n;
}

/* The recording handler: logs each event it sees (its attachment is the log) and passes it
 * on. Reads log "read", read completes "complete". */
static int t_rec_added(nx_context_t *ctx, void *log) {
  (void)ctx;
  t_log_add(log, "added");
  return 0;
}
static int t_rec_removed(nx_context_t *ctx, void *log) {
  (void)ctx;
  t_log_add(log, "removed");
  return 0;
}
static int t_rec_registered(nx_context_t *ctx, void *log) {
  t_log_add(log, "registered");
  return nx_context_fire_channel_registered(ctx);
}
static int t_rec_unregistered(nx_context_t *ctx, void *log) {
  t_log_add(log, "unregistered");
  return nx_context_fire_channel_unregistered(ctx);
}
static int t_rec_active(nx_context_t *ctx, void *log) {
  t_log_add(log, "active");
  return nx_context_fire_channel_active(ctx);
}
static int t_rec_inactive(nx_context_t *ctx, void *log) {
  t_log_add(log, "inactive");
  return nx_context_fire_channel_inactive(ctx);
}
static int t_rec_read(nx_context_t *ctx, nx_message_t *msg, void *log) {
  t_log_add(log, "read");
  return nx_context_fire_channel_read(ctx, msg);
}
static int t_rec_complete(nx_context_t *ctx, void *log) {
  t_log_add(log, "complete");
  return nx_context_fire_channel_read_complete(ctx);
}
static int t_rec_event(nx_context_t *ctx, nx_message_t *event, void *log) {
  int tag = 0;
  void *ptr = NULL;
  char name[32];
  ASSERT_OK(nx_message_user(event, &tag, &ptr));
  snprintf(name, sizeof(name), "event%d", tag);
  t_log_add(log, name);
  return nx_context_fire_user_event(ctx, event);
}
static int t_rec_writability(nx_context_t *ctx, void *log) {
  t_log_add(log, "writability");
  return nx_context_fire_channel_writability_changed(ctx);
}
static int t_rec_exception(nx_context_t *ctx, int error, void *log) {
  char name[32];
  (void)ctx;
  snprintf(name, sizeof(name), "exception%d", error);
  t_log_add(log, name);
  return 0; /* handled here */
}

static const nx_channel_handler_t t_recorder = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = t_rec_added,
    .handler_removed = t_rec_removed,
    .channel_registered = t_rec_registered,
    .channel_unregistered = t_rec_unregistered,
    .channel_active = t_rec_active,
    .channel_inactive = t_rec_inactive,
    .channel_read = t_rec_read,
    .channel_read_complete = t_rec_complete,
    .user_event_triggered = t_rec_event,
    .channel_writability_changed = t_rec_writability,
    .exception_caught = t_rec_exception,
};

/* Netty's EchoServerHandler: write each read back without a promise, flush at read complete. */
static int t_echo_read(nx_context_t *ctx, nx_message_t *msg, void *attachment) {
  (void)attachment;
  return nx_context_write(ctx, msg, NULL);
}
static int t_echo_complete(nx_context_t *ctx, void *attachment) {
  (void)attachment;
  return nx_context_flush(ctx);
}
static const nx_channel_handler_t t_echo = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = t_echo_read,
    .channel_read_complete = t_echo_complete,
};

/* A sink: collects the bytes it reads into a buffer (checked against `expect` as they come),
 * and counts read completes. */
struct t_sink {
  const uint8_t *expect;
  size_t want;
  size_t got;
  int mismatch;
  int completes;
  int done; /* set once `want` bytes came */
};

static int t_sink_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct t_sink *s = arg;
  const uint8_t *data;
  size_t len;
  (void)ctx;
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  if (s->got + len > s->want || memcmp(data, s->expect + s->got, len) != 0)
    s->mismatch = 1;
  s->got += len;
  if (s->got >= s->want)
    t_store(&s->done, 1);
  return 0;
}
static int t_sink_complete(nx_context_t *ctx, void *arg) {
  struct t_sink *s = arg;
  (void)ctx;
  s->completes++;
  return 0;
}
static const nx_channel_handler_t t_sink_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = t_sink_read,
    .channel_read_complete = t_sink_complete,
};

/* `len` pseudo-random bytes (a fixed seed per test). */
static inline uint8_t *t_random_bytes(size_t len, unsigned seed) {
  uint8_t *data = malloc(len);
  ASSERT_NOT_NULL(data);
  for (size_t i = 0; i < len; i++) {
    seed = seed * 1103515245u + 12345u;
    data[i] = (uint8_t)(seed >> 16);
  }
  return data;
}

/* An AF_UNIX address naming a local channel. */
static inline socklen_t t_local_address(const char *name, struct sockaddr_un *un) {
  memset(un, 0, sizeof(*un));
  un->sun_family = AF_UNIX;
  snprintf(un->sun_path, sizeof(un->sun_path), "%s", name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(un->sun_path) + 1);
}

/* Waits for a future (bounded), checks it succeeded, frees it. */
static inline void t_await_ok(nx_promise_t *future) {
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  ASSERT_EQ(nx_promise_is_success(future), 1);
  ASSERT_OK(nx_promise_free(future));
}

/* Waits (bounded) until the channel's close future completed: its teardown ran. */
static inline void t_await_closed(nx_channel_t *channel) {
  nx_promise_t *closed;
  ASSERT_OK(nx_channel_close_future(channel, &closed));
  t_await_ok(closed);
}

/* Closes the channel, waits for its teardown and frees the handle. */
static inline void t_close_free(nx_channel_t *channel) {
  ASSERT_OK(nx_channel_close(channel, NULL));
  t_await_closed(channel);
  ASSERT_OK(nx_channel_free(channel));
}

/* A local server bound to `name` on `group` (which serves the accepted channels too, each set
 * up by `child_init`, may be NULL), with auto-read as `auto_read` says. The bootstrap is freed
 * (the server lives on); the server's handle is the caller's. */
static inline nx_channel_t *t_local_server(nx_loop_group_t *group, const char *name,
                                           nx_channel_init_cb child_init, void *child_arg,
                                           int auto_read) {
  struct sockaddr_un un;
  socklen_t len = t_local_address(name, &un);
  nx_server_bootstrap_t *sb;
  nx_channel_t *server;
  nx_promise_t *bound;
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_channel(sb, NX_CHANNEL_LOCAL_SERVER));
  ASSERT_OK(nx_server_bootstrap_option(sb, NX_OPTION_AUTO_READ, auto_read));
  if (child_init != NULL)
    ASSERT_OK(nx_server_bootstrap_child_handler(sb, child_init, child_arg, NULL));
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&un, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  return server;
}

/* A local channel on `group` (set up by `init`, may be NULL) connected to the server bound to
 * `name`; the bootstrap is freed, the channel's handle is the caller's. */
static inline nx_channel_t *t_local_connect(nx_loop_group_t *group, const char *name,
                                            nx_channel_init_cb init, void *arg) {
  struct sockaddr_un un;
  socklen_t len = t_local_address(name, &un);
  nx_bootstrap_t *b;
  nx_channel_t *client;
  nx_promise_t *connected;
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  ASSERT_OK(nx_bootstrap_channel(b, NX_CHANNEL_LOCAL));
  if (init != NULL)
    ASSERT_OK(nx_bootstrap_handler(b, init, arg, NULL));
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&un, len, &client, &connected));
  t_await_ok(connected);
  ASSERT_OK(nx_bootstrap_free(b));
  return client;
}

/* Shuts the group down gracefully, waits for it (bounded) and frees it. */
static inline void t_free_group(nx_loop_group_t *group) {
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
}

/* A buffer message holding `text` (without its NUL). */
static inline nx_message_t *t_text(const char *text) {
  nx_message_t *msg;
  ASSERT_OK(nx_message_new_bytes(text, strlen(text), &msg));
  return msg;
}

/* Checks that an owned message holds exactly `text`, then releases it. */
static inline void t_expect_text(nx_message_t *msg, const char *text) {
  const uint8_t *data;
  size_t len;
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  ASSERT_EQ(len, strlen(text));
  ASSERT(memcmp(data, text, len) == 0);
  ASSERT_OK(nx_message_release(msg));
}

#endif /* NX_PIPELINE_HELPERS_H */
