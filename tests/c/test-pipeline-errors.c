/* Pipeline channels on the error paths: refused and timed-out connects (the channel never
 * becomes active), a peer reset with writes queued (each promise fails once, no SIGPIPE),
 * writability events per crossing against a peer that never reads and the hard cap,
 * half-closure on and off, close inside every event and inside a write listener, and a group
 * shut down with live channels. */
#include "pipeline-helpers.h"

#include <netinet/in.h>

static void stop_group(nx_loop_group_t *group) {
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
}

static int init_recorder(nx_channel_t *ch, void *log) {
  return nx_pipeline_add_last(ch, "rec", &t_recorder, log, NULL, NULL);
}

/* A raw listening socket on 127.0.0.1 (blocking; `rcvbuf` > 0 sets SO_RCVBUF, which accepted
 * sockets inherit). */
static int raw_listen(int backlog, int rcvbuf, struct sockaddr_storage *ss, socklen_t *len) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  if (rcvbuf > 0)
    ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)));
  *len = t_loopback(AF_INET, 0, ss);
  ASSERT_OK(bind(fd, (struct sockaddr *)ss, *len));
  ASSERT_OK(listen(fd, backlog));
  ASSERT_OK(getsockname(fd, (struct sockaddr *)ss, len));
  return fd;
}

/* A client bootstrap on `group` with the recorder (and `extra` options). */
static nx_bootstrap_t *client_bootstrap(nx_loop_group_t *group, struct t_log *log) {
  nx_bootstrap_t *b;
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  ASSERT_OK(nx_bootstrap_handler(b, init_recorder, log, NULL));
  return b;
}

TEST_IMPL(pipeline_connect_refused) {
  struct t_log log;
  struct sockaddr_storage ss;
  socklen_t len;
  nx_loop_group_t *group;
  nx_bootstrap_t *b;
  nx_channel_t *ch;
  nx_promise_t *connected;
  int cause = 0;
  int fd = raw_listen(1, 0, &ss, &len);
  close(fd); /* nobody listens there now */
  t_log_init(&log);
  ASSERT_OK(nx_loop_group_new(1, &group));
  b = client_bootstrap(group, &log);
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &ch, &connected));
  ASSERT_OK(nx_promise_wait(connected, T_LIMIT_MS));
  ASSERT_EQ(nx_promise_is_success(connected), 0);
  ASSERT_OK(nx_promise_cause(connected, &cause));
  ASSERT_EQ(cause, -ECONNREFUSED);
  ASSERT_OK(nx_promise_free(connected));
  t_await_closed(ch);
  ASSERT_EQ(nx_channel_is_active(ch), 0);
  {
    char text[8192];
    t_log_read(&log, text, sizeof(text));
    ASSERT_STR_EQ(text, "added registered unregistered removed"); /* never active */
  }
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_OK(nx_bootstrap_free(b));
  stop_group(group);
  return 0;
}

TEST_IMPL(pipeline_connect_timeout) {
  struct t_log log;
  struct sockaddr_storage ss;
  socklen_t len;
  nx_loop_group_t *group;
  nx_bootstrap_t *b;
  nx_channel_t *ch;
  nx_promise_t *connected;
  int cause = 0, fillers[4], nfill = 0;
  /* A listener that never accepts, its queue filled: further SYNs are dropped, so a connect
   * neither succeeds nor is refused until the timeout. */
  int fd = raw_listen(0, 0, &ss, &len);
  for (; nfill < 4; nfill++) {
    fillers[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fillers[nfill], 0);
    (void)connect(fillers[nfill], (struct sockaddr *)&ss, len);
  }
  t_sleep_ms(50);
  t_log_init(&log);
  ASSERT_OK(nx_loop_group_new(1, &group));
  b = client_bootstrap(group, &log);
  ASSERT_OK(nx_bootstrap_option(b, NX_OPTION_CONNECT_TIMEOUT_MILLIS, 200));
  int64_t started = t_now_ms();
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &ch, &connected));
  ASSERT_OK(nx_promise_wait(connected, T_LIMIT_MS));
  int succeeded = nx_promise_is_success(connected);
  ASSERT_OK(nx_promise_cause(connected, &cause));
  ASSERT_OK(nx_promise_free(connected));
  t_close_free(ch);
  ASSERT_OK(nx_bootstrap_free(b));
  stop_group(group);
  for (int i = 0; i < nfill; i++)
    close(fillers[i]);
  close(fd);
  if (succeeded)
    RETURN_SKIP("this kernel accepted a connection past a full listen queue");
  ASSERT_EQ(cause, -ETIMEDOUT);
  ASSERT_GE(t_now_ms() - started, 190);
  ASSERT_EQ(t_log_count(&log, "active"), 0);
  return 0;
}

/* A listener per write promise: counts failures (once each) and records the cause. */
struct write_results {
  int done;
  int failed;
  int bad_cause;
};

static void count_write(nx_promise_t *promise, void *arg) {
  struct write_results *r = arg;
  int cause = 0;
  ASSERT_OK(nx_promise_cause(promise, &cause));
  if (cause != 0) {
    r->failed++;
    if (cause != -ECONNRESET && cause != -EPIPE && cause != NX_ECLOSED)
      r->bad_cause = cause;
  }
  t_store(&r->done, t_load(&r->done) + 1);
  ASSERT_OK(nx_promise_free(promise));
}

/* Writes `writes` times `size` bytes of `chunk` to `ch`, each with a promise counted in
 * `results`, flushes, and waits (bounded) until the queued byte count stops moving above 0
 * (the peer's buffers are full); returns that count. */
static size_t write_until_stalled(nx_channel_t *ch, nx_loop_t *loop, const uint8_t *chunk,
                                  size_t size, int writes, struct write_results *results) {
  size_t queued = 0, last = 0;
  for (int i = 0; i < writes; i++) {
    nx_promise_t *p;
    ASSERT_OK(nx_promise_new(loop, &p));
    ASSERT_OK(nx_promise_add_listener(p, count_write, results, NULL));
    ASSERT_OK(nx_channel_write_bytes(ch, chunk, size, p));
  }
  ASSERT_OK(nx_channel_flush(ch));
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  for (;;) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(20);
    ASSERT_OK(nx_channel_queued_bytes(ch, &queued));
    if (queued > 0 && queued == last)
      return queued;
    last = queued;
  }
}

/* Connects a pipeline client (SO_SNDBUF small) to a raw peer with a small receive buffer;
 * returns the accepted raw descriptor. */
static int connect_to_raw(nx_loop_group_t *group, struct t_log *log, nx_bootstrap_t **b,
                          nx_channel_t **ch, int listener_out[1]) {
  struct sockaddr_storage ss;
  socklen_t len;
  nx_promise_t *connected;
  int listener = raw_listen(4, 4096, &ss, &len);
  *b = client_bootstrap(group, log);
  ASSERT_OK(nx_bootstrap_option(*b, NX_OPTION_SO_SNDBUF, 4096));
  ASSERT_OK(nx_bootstrap_connect(*b, (struct sockaddr *)&ss, len, ch, &connected));
  t_await_ok(connected);
  int peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  ASSERT_GE(peer, 0);
  listener_out[0] = listener;
  return peer;
}

TEST_IMPL(pipeline_peer_reset_fails_each_write_once) {
  enum { WRITES = 64, SIZE = 16 * 1024 };
  struct t_log log;
  struct write_results results = {0, 0, 0};
  nx_loop_group_t *group;
  nx_bootstrap_t *b;
  nx_channel_t *ch;
  nx_loop_t *loop;
  int listener;
  static uint8_t chunk[SIZE];
  t_log_init(&log);
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &loop));
  int peer = connect_to_raw(group, &log, &b, &ch, &listener);
  /* The peer does not read: once the kernel's buffers are full, most of the 1 MiB stays
   * queued in nioxide. */
  ASSERT_GT(write_until_stalled(ch, loop, chunk, SIZE, WRITES, &results), 0u);
  /* The peer resets the connection (SO_LINGER 0). */
  struct linger lg = {1, 0};
  ASSERT_OK(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  close(peer);
  t_wait_for(&results.done, WRITES);
  ASSERT_GT(results.failed, 0);
  ASSERT_EQ(results.bad_cause, 0);
  t_await_closed(ch); /* a reset closes the channel */
  ASSERT_EQ(t_log_count(&log, "inactive"), 1);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_OK(nx_bootstrap_free(b));
  close(listener);
  stop_group(group);
  ASSERT_EQ(results.done, WRITES); /* each once */
  return 0;
}

TEST_IMPL(pipeline_writability_per_crossing_and_hard_cap) {
  enum { CHUNK = 4096, LOW = 64 * 1024, HIGH = 128 * 1024 };
  struct t_log log;
  nx_loop_group_t *group;
  nx_bootstrap_t *b;
  nx_channel_t *ch;
  nx_loop_t *loop;
  nx_promise_t *big;
  int listener, cause = 0, writes = 0;
  static uint8_t chunk[CHUNK], sink[65536];
  size_t before = 1;
  t_log_init(&log);
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &loop));
  int peer = connect_to_raw(group, &log, &b, &ch, &listener);
  ASSERT_OK(nx_channel_set_option(ch, NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK, HIGH));
  ASSERT_OK(nx_channel_set_option(ch, NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK, LOW));
  ASSERT_OK(nx_channel_set_option(ch, NX_OPTION_WRITE_BUFFER_HARD_CAP, 1024 * 1024));
  {
    int64_t v;
    ASSERT_OK(nx_channel_option(ch, NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK, &v));
    ASSERT_EQ(v, HIGH);
    ASSERT_OK(nx_channel_option(ch, NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK, &v));
    ASSERT_EQ(v, LOW);
  }
  /* A writer that honours writability: writes while writable (it flips at the write that
   * passes the high mark), so nioxide holds at most the high mark plus one write. */
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (nx_channel_is_writable(ch) == 1) {
    ASSERT(t_now_ms() < deadline);
    ASSERT_OK(nx_channel_write_bytes(ch, chunk, CHUNK, NULL));
    ASSERT_OK(nx_channel_flush(ch));
    writes++;
    size_t q;
    ASSERT_OK(nx_channel_queued_bytes(ch, &q));
    ASSERT_LE(q, HIGH + CHUNK + 256);
  }
  while (t_log_count(&log, "writability") == 0) { /* the event follows, later */
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  ASSERT_EQ(nx_channel_is_writable(ch), 0);
  ASSERT_OK(nx_channel_bytes_before_unwritable(ch, &before));
  ASSERT_EQ(before, 0u);
  ASSERT_OK(nx_channel_bytes_before_writable(ch, &before));
  ASSERT_GT(before, 0u);
  /* A write past the hard cap fails whole, at once. */
  {
    uint8_t *huge = calloc(1, 1024 * 1024);
    ASSERT_OK(nx_promise_new(loop, &big));
    ASSERT_OK(nx_channel_write_bytes(ch, huge, 1024 * 1024, big));
    free(huge);
    ASSERT_OK(nx_promise_wait(big, T_LIMIT_MS));
    ASSERT_OK(nx_promise_cause(big, &cause));
    ASSERT_EQ(cause, -ENOBUFS);
    ASSERT_OK(nx_promise_free(big));
  }
  ASSERT_EQ(t_log_count(&log, "writability"), 1); /* one per crossing */
  /* The peer reads everything: below the low mark the channel is writable again, one event. */
  while (t_log_count(&log, "writability") < 2) {
    ASSERT(t_now_ms() < deadline);
    if (t_poll(peer, POLLIN, 10) & POLLIN)
      ASSERT_GT(read(peer, sink, sizeof(sink)), 0);
  }
  ASSERT_EQ(nx_channel_is_writable(ch), 1);
  t_sleep_ms(20);
  ASSERT_EQ(t_log_count(&log, "writability"), 2);
  ASSERT_GT(writes, 0);
  t_close_free(ch);
  close(peer);
  close(listener);
  ASSERT_OK(nx_bootstrap_free(b));
  stop_group(group);
  return 0;
}

/* Half-closure: the server child answers the client's end of output with "bye" on the
 * input-shutdown event (allowed), or simply closes (not allowed). */
static int bye_event(nx_context_t *ctx, nx_message_t *event, void *arg) {
  int tag;
  void *ptr;
  nx_channel_t *ch;
  (void)arg;
  ASSERT_OK(nx_message_user(event, &tag, &ptr));
  if (tag == NX_EVENT_INPUT_SHUTDOWN) {
    ASSERT_OK(nx_context_channel(ctx, &ch));
    ASSERT_EQ(nx_channel_is_open(ch), 1);
    ASSERT_EQ(nx_channel_is_writable(ch), 1);
    ASSERT_OK(nx_context_write_bytes(ctx, "bye", 3, NULL));
    ASSERT_OK(nx_context_flush(ctx));
    ASSERT_OK(nx_context_close(ctx, NULL));
  }
  return nx_context_fire_user_event(ctx, event);
}
static const nx_channel_handler_t bye = {
    .size = sizeof(nx_channel_handler_t),
    .user_event_triggered = bye_event,
};

struct half_setup {
  struct t_log *log;
};

static int init_half_child(nx_channel_t *ch, void *log) {
  ASSERT_OK(nx_pipeline_add_last(ch, "rec", &t_recorder, log, NULL, NULL));
  return nx_pipeline_add_last(ch, "bye", &bye, NULL, NULL, NULL);
}

static int half_closure(int allowed) {
  struct t_log server_log, client_log;
  static const uint8_t expect[] = "bye";
  struct t_sink sink = {expect, 3, 0, 0, 0, 0};
  struct sockaddr_storage ss;
  socklen_t len;
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *client;
  nx_promise_t *bound, *connected, *shut;
  t_log_init(&server_log);
  t_log_init(&client_log);
  ASSERT_OK(nx_loop_group_new(2, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_child_option(sb, NX_OPTION_ALLOW_HALF_CLOSURE, allowed));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, init_half_child, &server_log, NULL));
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));
  b = client_bootstrap(group, &client_log);
  ASSERT_OK(nx_bootstrap_option(b, NX_OPTION_ALLOW_HALF_CLOSURE, 1));
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &client, &connected));
  t_await_ok(connected);
  ASSERT_OK(nx_pipeline_add_last(client, "sink", &t_sink_handler, &sink, NULL, NULL));
  ASSERT_OK(nx_channel_write_bytes(client, "ping", 4, NULL));
  ASSERT_OK(nx_channel_flush(client));
  ASSERT_OK(nx_channel_shutdown_output(client, &shut));
  t_await_ok(shut);
  while (t_log_count(&server_log, "removed") < 1)
    t_sleep_ms(1);
  /* The server closed: the client (half-closure allowed) sees its input end, stays open. */
  while (t_log_count(&client_log, "event-1") < 1)
    t_sleep_ms(1);
  ASSERT_EQ(nx_channel_is_open(client), 1);
  if (allowed) {
    ASSERT_EQ(t_log_count(&server_log, "event-1"), 1);
    ASSERT_EQ(sink.got, 3u);
    ASSERT_EQ(sink.mismatch, 0);
  } else {
    ASSERT_EQ(t_log_count(&server_log, "event-1"), 0);
    ASSERT_EQ(sink.got, 0u);
  }
  ASSERT_EQ(t_log_count(&server_log, "inactive"), 1);
  ASSERT_EQ(t_log_count(&client_log, "event-3"), 1); /* the client's output shutdown */
  ASSERT_EQ(t_log_count(&client_log, "event-1"), 1); /* then its input's end */
  t_close_free(client);
  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
  stop_group(group);
  return 0;
}

TEST_IMPL(pipeline_half_closure_allowed) { return half_closure(1); }
TEST_IMPL(pipeline_half_closure_not_allowed) { return half_closure(0); }

/* Close inside every event: a handler that closes the channel in the event named by its
 * attachment; the events still come once each, and no read follows the close. */
struct closer {
  const char *when;
  struct t_log log;
  int closed;
};

static int closer_close(nx_context_t *ctx, struct closer *c, const char *event) {
  t_log_add(&c->log, event);
  if (strcmp(c->when, event) == 0) {
    ASSERT_OK(nx_context_close(ctx, NULL));
    c->closed = 1;
  }
  return 0;
}
static int c_registered(nx_context_t *ctx, void *c) {
  closer_close(ctx, c, "registered");
  return nx_context_fire_channel_registered(ctx);
}
static int c_active(nx_context_t *ctx, void *c) {
  closer_close(ctx, c, "active");
  return nx_context_fire_channel_active(ctx);
}
static int c_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct closer *c = arg;
  if (c->closed)
    t_log_add(&c->log, "read-after-close");
  closer_close(ctx, c, "read");
  if (strcmp(c->when, "exception") == 0)
    return -EPROTO; /* to this handler's exception callback, which closes */
  return nx_context_fire_channel_read(ctx, msg);
}
static int c_complete(nx_context_t *ctx, void *c) {
  closer_close(ctx, c, "complete");
  return nx_context_fire_channel_read_complete(ctx);
}
static int c_event(nx_context_t *ctx, nx_message_t *e, void *c) {
  closer_close(ctx, c, "event");
  return nx_context_fire_user_event(ctx, e);
}
static int c_exception(nx_context_t *ctx, int error, void *c) {
  (void)error;
  return closer_close(ctx, c, "exception");
}
static int c_inactive(nx_context_t *ctx, void *c) {
  closer_close(ctx, c, "inactive");
  return nx_context_fire_channel_inactive(ctx);
}
static int c_unregistered(nx_context_t *ctx, void *c) {
  closer_close(ctx, c, "unregistered");
  return nx_context_fire_channel_unregistered(ctx);
}
static int c_removed(nx_context_t *ctx, void *c) {
  return closer_close(ctx, c, "removed");
}
static const nx_channel_handler_t closer_handler = {
    .size = sizeof(nx_channel_handler_t),
    .handler_removed = c_removed,
    .channel_registered = c_registered,
    .channel_unregistered = c_unregistered,
    .channel_active = c_active,
    .channel_inactive = c_inactive,
    .channel_read = c_read,
    .channel_read_complete = c_complete,
    .user_event_triggered = c_event,
    .exception_caught = c_exception,
};

/* A handler that takes nothing: its context is where the test fires events from. */
static const nx_channel_handler_t nothing = {.size = sizeof(nx_channel_handler_t)};

static int add_closer(nx_channel_t *ch, void *c) {
  ASSERT_OK(nx_pipeline_add_last(ch, "first", &nothing, NULL, NULL, NULL));
  return nx_pipeline_add_last(ch, "closer", &closer_handler, c, NULL, NULL);
}

TEST_IMPL(pipeline_close_inside_every_event) {
  static const char *events[] = {"registered", "active",       "read",    "complete",
                                 "event",      "exception",    "inactive", "unregistered",
                                 "removed"};
  for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
    struct closer c = {events[i], {PTHREAD_MUTEX_INITIALIZER, ""}, 0};
    nx_channel_t *ch;
    nx_message_t *msg = t_text("x"), *event;
    nx_context_t *first;
    ASSERT_OK(nx_embedded_channel_new(add_closer, &c, &ch));
    if (nx_pipeline_get(ch, "first", &first) != 0)
      first = NULL; /* closed in channel_registered: torn down before nx_embedded_channel_new returned */
    ASSERT_OK(nx_message_new_user(1, NULL, NULL, &event));
    (void)nx_embedded_channel_write_inbound(ch, msg); /* NX_ECLOSED once closed */
    (void)nx_embedded_channel_write_inbound(ch, msg);
    if (first != NULL)
      (void)nx_context_fire_user_event(first, event); /* NX_ECLOSED once closed */
    (void)nx_embedded_channel_run_pending_tasks(ch);
    (void)nx_embedded_channel_finish(ch);
    ASSERT_OK(nx_message_release(msg));
    ASSERT_OK(nx_message_release(event));
    char text[8192];
    t_log_read(&c.log, text, sizeof(text));
    /* Each life-cycle event once, in order, whatever closed the channel. */
    ASSERT_EQ(t_log_count(&c.log, "registered"), 1);
    /* Closed in channel_registered, it never becomes active, so it never becomes inactive. */
    int was_active = strcmp(c.when, "registered") != 0;
    ASSERT_EQ(t_log_count(&c.log, "active"), was_active);
    ASSERT_EQ(t_log_count(&c.log, "inactive"), was_active);
    ASSERT_EQ(t_log_count(&c.log, "unregistered"), 1);
    ASSERT_EQ(t_log_count(&c.log, "removed"), 1);
    ASSERT_EQ(t_log_count(&c.log, "read-after-close"), 0);
    ASSERT_EQ(t_log_count(&c.log, c.when), strcmp(c.when, "inactive") == 0 ? was_active : 1);
    ASSERT_EQ(nx_channel_is_open(ch), 0);
    ASSERT_OK(nx_channel_free(ch));
  }
  return 0;
}

/* Close inside a write listener, and nx_channel_close_when: both close after the write. */
static void close_in_listener(nx_promise_t *promise, void *ch) {
  ASSERT_EQ(nx_promise_is_success(promise), 1);
  ASSERT_OK(nx_channel_close(ch, NULL));
}

TEST_IMPL(pipeline_close_in_write_listener) {
  for (int variant = 0; variant < 2; variant++) {
    nx_channel_t *ch;
    nx_promise_t *written;
    nx_message_t *out;
    ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &ch));
    ASSERT_OK(nx_promise_new(NULL, &written));
    if (variant == 0)
      ASSERT_OK(nx_promise_add_listener(written, close_in_listener, ch, NULL));
    else
      ASSERT_OK(nx_channel_close_when(ch, written, NX_CLOSE_ALWAYS));
    ASSERT_EQ(nx_channel_close_when(ch, written, 3), NX_EINVAL);
    ASSERT_OK(nx_channel_write_bytes(ch, "last", 4, written));
    ASSERT_OK(nx_channel_flush(ch));
    ASSERT_OK(nx_embedded_channel_run_pending_tasks(ch));
    ASSERT_EQ(nx_promise_is_success(written), 1);
    ASSERT_EQ(nx_channel_is_open(ch), 0);
    ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &out), 1);
    t_expect_text(out, "last");
    ASSERT_OK(nx_promise_free(written));
    ASSERT_OK(nx_channel_free(ch));
  }
  return 0;
}

/* A group shut down with live channels (and queued writes): every channel gets inactive and
 * unregistered once, its close future completes, and nioxide's handles are gone. */
TEST_IMPL(pipeline_group_shutdown_with_live_channels) {
  struct t_log server_log, client_log;
  struct sockaddr_storage ss;
  socklen_t len;
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *clients[3];
  nx_promise_t *bound, *connected;
  size_t channels_before, contexts_before, count;
  ASSERT_OK(nx_live_handles(NX_HANDLE_CHANNEL, &channels_before));
  ASSERT_OK(nx_live_handles(NX_HANDLE_CONTEXT, &contexts_before));
  t_log_init(&server_log);
  t_log_init(&client_log);
  ASSERT_OK(nx_loop_group_new(2, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, init_recorder, &server_log, NULL));
  ASSERT_OK(nx_server_bootstrap_child_option(sb, NX_OPTION_AUTO_READ, 0)); /* never reads */
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));
  b = client_bootstrap(group, &client_log);
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &clients[i], &connected));
    t_await_ok(connected);
    static uint8_t chunk[64 * 1024];
    for (int j = 0; j < 32; j++) /* more than the peer's buffers take: some stay queued */
      ASSERT_OK(nx_channel_write_bytes(clients[i], chunk, sizeof(chunk), NULL));
    ASSERT_OK(nx_channel_flush(clients[i]));
  }
  while (t_log_count(&server_log, "active") < 3)
    t_sleep_ms(1);
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, 200));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  for (int i = 0; i < 3; i++) {
    t_await_closed(clients[i]);
    ASSERT_EQ(nx_channel_is_open(clients[i]), 0);
    ASSERT_OK(nx_channel_free(clients[i]));
  }
  t_await_closed(server);
  ASSERT_OK(nx_channel_free(server));
  ASSERT_EQ(t_log_count(&server_log, "inactive"), 3);
  ASSERT_EQ(t_log_count(&server_log, "unregistered"), 3);
  ASSERT_EQ(t_log_count(&client_log, "inactive"), 3);
  ASSERT_EQ(t_log_count(&client_log, "unregistered"), 3);
  ASSERT_EQ(t_log_count(&client_log, "removed"), 3);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_OK(nx_live_handles(NX_HANDLE_CHANNEL, &count));
  ASSERT_EQ(count, channels_before);
  ASSERT_OK(nx_live_handles(NX_HANDLE_CONTEXT, &count));
  ASSERT_EQ(count, contexts_before);
  return 0;
}

/* A group shut down while a channel has flushed writes queued (the peer does not read yet):
 * the writes go out until the shutdown's deadline, then the channel closes. The bytes of the
 * writes whose promise succeeded reach the peer (and at most a part of the next one),
 * followed by the end of the stream; each promise completes once. `drain` lets the peer read
 * during the shutdown (every write gets out); otherwise it reads only after the deadline
 * closed the channel (some writes fail as closed). */
static int shutdown_with_queued_writes(int drain) {
  enum { WRITES = 64, SIZE = 4096 };
  struct t_log log;
  struct write_results results = {0, 0, 0};
  nx_loop_group_t *group;
  nx_bootstrap_t *b;
  nx_channel_t *ch;
  nx_loop_t *loop;
  int listener;
  static uint8_t chunk[SIZE], sink[65536];
  size_t received = 0;
  t_log_init(&log);
  for (size_t i = 0; i < SIZE; i++)
    chunk[i] = (uint8_t)i;
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &loop));
  int peer = connect_to_raw(group, &log, &b, &ch, &listener);
  /* The kernel's small buffers fill; most of the 256 KiB stays queued in nioxide. */
  ASSERT_GT(write_until_stalled(ch, loop, chunk, SIZE, WRITES, &results), 0u);
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, drain ? T_LIMIT_MS : 200));
  if (!drain)
    ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  /* The peer reads to the end of the stream, checking every byte. */
  for (;;) {
    ASSERT(t_now_ms() < deadline);
    if (!(t_poll(peer, POLLIN, 10) & (POLLIN | POLLHUP)))
      continue;
    ssize_t n = read(peer, sink, sizeof(sink));
    ASSERT_GE(n, 0);
    if (n == 0)
      break;
    for (ssize_t i = 0; i < n; i++)
      ASSERT_EQ(sink[i], (uint8_t)((received + (size_t)i) % SIZE));
    received += (size_t)n;
  }
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  t_wait_for(&results.done, WRITES);
  ASSERT_EQ(results.bad_cause, 0);
  /* Every succeeded write's bytes, plus at most a part of the first failed one (a write
   * the kernel took in part fails whole at the close, as in Netty). */
  size_t succeeded = (size_t)(WRITES - results.failed) * SIZE;
  ASSERT_GE(received, succeeded);
  ASSERT_LT(received, succeeded + SIZE);
  if (drain)
    ASSERT_EQ(results.failed, 0);
  else
    ASSERT_GT(results.failed, 0);
  t_await_closed(ch);
  ASSERT_EQ(t_log_count(&log, "inactive"), 1);
  ASSERT_EQ(t_log_count(&log, "unregistered"), 1);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_OK(nx_bootstrap_free(b));
  close(peer);
  close(listener);
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_EQ(results.done, WRITES); /* each once */
  return 0;
}

TEST_IMPL(pipeline_group_shutdown_delivers_queued_writes) {
  return shutdown_with_queued_writes(1);
}

TEST_IMPL(pipeline_group_shutdown_deadline_counts_flushed_bytes) {
  return shutdown_with_queued_writes(0);
}
