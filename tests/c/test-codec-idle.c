/* Built-in handlers (nx_handler_t) and the idle-state handlers in C: idle events as
 * NX_EVENT_*_IDLE tags on an embedded channel's virtual clock (first and later, reset by
 * reads and writes, off at 0), read and write timeouts closing the channel once with
 * NX_ETIMEDOUT, who owns a handler before and after it is added, and an idle connection
 * over TCP. Nothing leaked (handles, buffers). */
#include "pipeline-helpers.h"

/* What each embedded test adds: a built-in handler as "idle", then the recorder as "rec". */
struct idle_setup {
  nx_handler_t *handler;
  struct t_log *log;
};

static int add_idle_and_recorder(nx_channel_t *channel, void *arg) {
  struct idle_setup *s = arg;
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "idle", s->handler, NULL));
  return nx_pipeline_add_last(channel, "rec", &t_recorder, s->log, NULL, NULL);
}

/* An embedded channel with `handler` and a recorder logging into `log`. */
static nx_channel_t *idle_channel(nx_handler_t *handler, struct t_log *log) {
  struct idle_setup s = {handler, log};
  nx_channel_t *ch;
  t_log_init(log);
  ASSERT_OK(nx_embedded_channel_new(add_idle_and_recorder, &s, &ch));
  return ch;
}

/* The log's text after its first `skip` bytes ("added registered active " and what the test
 * saw before), and the new mark. */
static const char *log_since(struct t_log *log, size_t *mark, char *text, size_t cap) {
  t_log_read(log, text, cap);
  size_t at = *mark < strlen(text) ? *mark : strlen(text);
  *mark = strlen(text);
  while (text[at] == ' ')
    at++;
  return text + at;
}

static void write_in(nx_channel_t *ch) {
  nx_message_t *msg = t_text("x");
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &msg), 1);
  ASSERT_OK(nx_message_release(msg));
}

static void write_out(nx_channel_t *ch) {
  nx_message_t *msg = t_text("y");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &msg), 1);
  ASSERT_OK(nx_message_release(msg));
}

TEST_IMPL(codec_idle_events_on_virtual_time) {
  struct t_log log;
  char text[8192];
  size_t mark = 0;
  size_t live_buffers = nx_debug_live_buffers();
  nx_handler_t *handler;
  nx_channel_t *ch;

  /* Reader idle: first, then later ones; a read makes the next one first again. */
  ASSERT_OK(nx_codec_idle_state_handler(1000, 0, 0, &handler));
  ch = idle_channel(handler, &log);
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "added registered active");
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 999));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "");
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-5 event-4");
  ASSERT_EQ(NX_EVENT_FIRST_READER_IDLE, -5);
  ASSERT_EQ(NX_EVENT_READER_IDLE, -4);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 500));
  write_in(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 999));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "read complete");
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-5");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));

  /* Writer idle: a completed write resets it; reads do not. */
  mark = 0;
  ASSERT_OK(nx_codec_idle_state_handler(0, 1000, 0, &handler));
  ch = idle_channel(handler, &log);
  (void)log_since(&log, &mark, text, sizeof(text));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-7");
  write_out(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 999));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "");
  write_in(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "read complete event-7 event-6");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));

  /* All idle: reads and writes both reset it. */
  mark = 0;
  ASSERT_OK(nx_codec_idle_state_handler(0, 0, 1000, &handler));
  ch = idle_channel(handler, &log);
  (void)log_since(&log, &mark, text, sizeof(text));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-9 event-8");
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 500));
  write_in(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 500));
  write_out(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 999));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "read complete");
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-9");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));

  /* Every time 0: nothing ever fires. */
  mark = 0;
  ASSERT_OK(nx_codec_idle_state_handler(0, 0, 0, &handler));
  ch = idle_channel(handler, &log);
  (void)log_since(&log, &mark, text, sizeof(text));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 100000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

/* Writes "q" without flushing it: queued in the channel, in progress, never complete. */
static void queue_out(nx_channel_t *ch) {
  ASSERT_OK(nx_channel_write_bytes(ch, "q", 1, NULL));
  ASSERT_OK(nx_embedded_channel_run_pending_tasks(ch));
}

/* The writer-idle events while a write never completes, with and without
 * NX_IDLE_OBSERVE_OUTPUT: the first fires either way; then a period in which output was
 * queued fires nothing only when output is observed; a period with no change fires. */
TEST_IMPL(codec_idle_observe_output) {
  struct t_log log;
  char text[8192];
  size_t live_buffers = nx_debug_live_buffers();
  nx_handler_t *handler = NULL;
  nx_channel_t *ch;
  nx_message_t *msg;

  ASSERT_EQ(nx_codec_idle_state_handler_flags(0, 1000, 0, 2, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_idle_state_handler_flags(0, -1, 0, NX_IDLE_OBSERVE_OUTPUT, &handler),
            NX_EINVAL);
  ASSERT_EQ(nx_codec_idle_state_handler_flags(0, 1000, 0, 0, NULL), NX_EINVAL);
  ASSERT_NULL(handler);
  for (int observe = 0; observe <= 1; observe++) {
    size_t mark = 0;
    ASSERT_OK(nx_codec_idle_state_handler_flags(0, 1000, 0, observe ? NX_IDLE_OBSERVE_OUTPUT : 0,
                                                &handler));
    ch = idle_channel(handler, &log);
    (void)log_since(&log, &mark, text, sizeof(text));
    queue_out(ch);
    ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
    ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-7");
    queue_out(ch);
    ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
    ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), observe ? "" : "event-6");
    ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000));
    ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)), "event-6");
    ASSERT_OK(nx_channel_flush(ch));
    for (int i = 0; i < 2; i++) {
      ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &msg), 1);
      ASSERT_OK(nx_message_release(msg));
    }
    ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
    ASSERT_OK(nx_channel_free(ch));
  }
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

TEST_IMPL(codec_idle_read_timeout_closes_once) {
  struct t_log log;
  char text[8192];
  size_t mark = 0;
  nx_handler_t *handler;
  nx_channel_t *ch;
  ASSERT_OK(nx_codec_read_timeout_handler(1000, &handler));
  ch = idle_channel(handler, &log);
  (void)log_since(&log, &mark, text, sizeof(text));
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 600));
  write_in(ch);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 600));
  ASSERT_EQ(nx_channel_is_open(ch), 1);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 400));
  ASSERT_EQ(nx_channel_is_open(ch), 0);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 10000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)),
                "read complete exception-3007 inactive unregistered removed");
  ASSERT_EQ(NX_ETIMEDOUT, -3007);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* An outbound handler that never passes a write on nor completes it: a peer that stopped
 * reading. */
static int stall_write(nx_context_t *ctx, nx_message_t *msg, nx_promise_t *promise, void *arg) {
  (void)ctx, (void)msg, (void)promise;
  (*(int *)arg)++;
  return 0;
}
static const nx_channel_handler_t stall = {
    .size = sizeof(nx_channel_handler_t),
    .write = stall_write,
};

struct stall_setup {
  nx_handler_t *handler;
  struct t_log *log;
  int *stalled;
};

static int add_stall_timeout_recorder(nx_channel_t *channel, void *arg) {
  struct stall_setup *s = arg;
  ASSERT_OK(nx_pipeline_add_last(channel, "stall", &stall, s->stalled, NULL, NULL));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "timeout", s->handler,
                                    NULL));
  return nx_pipeline_add_last(channel, "rec", &t_recorder, s->log, NULL, NULL);
}

TEST_IMPL(codec_idle_write_timeout_closes_once) {
  struct t_log log;
  char text[8192];
  size_t mark = 0;
  int stalled = 0;
  size_t live_buffers = nx_debug_live_buffers();
  nx_channel_t *ch;
  nx_promise_t *promise;
  struct stall_setup s = {NULL, &log, &stalled};
  t_log_init(&log);
  ASSERT_OK(nx_codec_write_timeout_handler(1000, &s.handler));
  ASSERT_OK(nx_embedded_channel_new(add_stall_timeout_recorder, &s, &ch));
  (void)log_since(&log, &mark, text, sizeof(text));
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_OK(nx_channel_write_bytes(ch, "a", 1, promise));
  ASSERT_OK(nx_channel_write_bytes(ch, "b", 1, NULL));
  ASSERT_OK(nx_channel_flush(ch));
  ASSERT_EQ(stalled, 2);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 999));
  ASSERT_EQ(nx_channel_is_open(ch), 1);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_EQ(nx_channel_is_open(ch), 0);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 10000));
  ASSERT_STR_EQ(log_since(&log, &mark, text, sizeof(text)),
                "exception-3007 inactive unregistered removed");
  ASSERT_EQ(nx_promise_is_done(promise), 0); /* the stalled write is the stall's */
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

static int add_nothing(nx_channel_t *channel, void *arg) {
  (void)channel, (void)arg;
  return 0;
}

TEST_IMPL(codec_idle_handler_ownership) {
  nx_handler_t *handler = NULL, *other;
  nx_channel_t *ch;
  nx_context_t *ctx = NULL;
  uint64_t live, before;
  char names[256];
  size_t len;
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &before));

  /* Bad arguments: nothing made, *out unchanged. */
  ASSERT_EQ(nx_codec_idle_state_handler(-1, 0, 0, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_idle_state_handler(0, -1, 0, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_idle_state_handler(0, 0, -1, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_read_timeout_handler(-5, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_write_timeout_handler(-5, &handler), NX_EINVAL);
  ASSERT_EQ(nx_codec_read_timeout_handler(5, NULL), NX_EINVAL);
  ASSERT_NULL(handler);
  ASSERT_EQ(nx_handler_free(NULL), NX_EINVAL);

  /* Freed unadded; a second free is a stale handle. */
  ASSERT_OK(nx_codec_read_timeout_handler(5, &handler));
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &live));
  ASSERT_EQ(live, before + 1);
  ASSERT_OK(nx_handler_free(handler));
  ASSERT_EQ(nx_handler_free(handler), NX_EBADHANDLE);

  ASSERT_OK(nx_embedded_channel_new(add_nothing, NULL, &ch));
  ASSERT_OK(nx_codec_idle_state_handler(1000, 0, 0, &handler));
  /* A failed add leaves the handler the caller's. */
  ASSERT_EQ(nx_pipeline_add_handler(ch, NX_PIPELINE_BEFORE, "nobody", "idle", handler, &ctx),
            NX_EINVAL);
  ASSERT_EQ(nx_pipeline_add_handler(ch, 99, NULL, "idle", handler, &ctx), NX_EINVAL);
  ASSERT_EQ(nx_pipeline_add_handler(ch, NX_PIPELINE_LAST, NULL, NULL, handler, &ctx), NX_EINVAL);
  ASSERT_EQ(nx_pipeline_add_handler(ch, NX_PIPELINE_LAST, NULL, "idle", NULL, &ctx), NX_EINVAL);
  ASSERT_NULL(ctx);
  /* Added: the pipeline's now; the handle is gone. */
  ASSERT_OK(nx_pipeline_add_handler(ch, NX_PIPELINE_LAST, NULL, "idle", handler, &ctx));
  ASSERT_NOT_NULL(ctx);
  ASSERT_EQ(nx_handler_free(handler), NX_EBADHANDLE);
  ASSERT_EQ(nx_pipeline_add_handler(ch, NX_PIPELINE_LAST, NULL, "again", handler, NULL),
            NX_EBADHANDLE);
  /* A name that is taken fails, and the new handler stays the caller's. */
  ASSERT_OK(nx_codec_write_timeout_handler(1000, &other));
  ASSERT_EQ(nx_pipeline_add_handler(ch, NX_PIPELINE_FIRST, NULL, "idle", other, NULL), NX_EINVAL);
  ASSERT_OK(nx_pipeline_add_handler(ch, NX_PIPELINE_BEFORE, "idle", "write", other, NULL));
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "write,idle");
  /* Its context works like a C handler's, found by name too, and closes at removal. */
  nx_context_t *found;
  ASSERT_OK(nx_pipeline_get(ch, "idle", &found));
  ASSERT_PTR_EQ(found, ctx);
  ASSERT_OK(nx_context_flush(ctx));
  /* Replaced by another built-in handler in its place. */
  ASSERT_OK(nx_codec_read_timeout_handler(1000, &other));
  ASSERT_EQ(nx_pipeline_replace_handler(ch, "nobody", "read", other, NULL), NX_EINVAL);
  ASSERT_OK(nx_pipeline_replace_handler(ch, "idle", "read", other, NULL));
  ASSERT_EQ(nx_handler_free(other), NX_EBADHANDLE);
  ASSERT_EQ(nx_context_flush(ctx), NX_ECLOSED);
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "write,read");
  ASSERT_OK(nx_pipeline_remove(ch, "read"));
  ASSERT_OK(nx_live_handles(NX_HANDLE_HANDLER, &live));
  ASSERT_EQ(live, before);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* Over TCP: a server whose children have a 20 ms reader-idle handler, a 300 ms read timeout
 * and the recorder; a client that connects and sends nothing is told "reader idle" (first,
 * then later ones) and then closed by the timeout. */
struct tcp_idle {
  struct t_log log;
  int closed; /* the client saw its channel go inactive */
};

static int add_server_child(nx_channel_t *channel, void *arg) {
  struct tcp_idle *s = arg;
  nx_handler_t *idle, *timeout;
  ASSERT_OK(nx_codec_idle_state_handler(20, 0, 0, &idle));
  ASSERT_OK(nx_codec_read_timeout_handler(300, &timeout));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "idle", idle, NULL));
  ASSERT_OK(nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "timeout", timeout, NULL));
  return nx_pipeline_add_last(channel, "rec", &t_recorder, &s->log, NULL, NULL);
}

static int client_inactive(nx_context_t *ctx, void *arg) {
  t_store(arg, 1);
  return nx_context_fire_channel_inactive(ctx);
}
static const nx_channel_handler_t client_watch = {
    .size = sizeof(nx_channel_handler_t),
    .channel_inactive = client_inactive,
};
static int add_client(nx_channel_t *channel, void *arg) {
  struct tcp_idle *s = arg;
  return nx_pipeline_add_last(channel, "watch", &client_watch, &s->closed, NULL, NULL);
}

TEST_IMPL(codec_idle_tcp_reader_idle_then_read_timeout) {
  struct tcp_idle s;
  char text[8192];
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *client;
  nx_promise_t *bound, *connected;
  struct sockaddr_storage ss;
  socklen_t len;
  size_t live_buffers = nx_debug_live_buffers();
  t_log_init(&s.log);
  s.closed = 0;
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, add_server_child, &s, NULL));
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  ASSERT_OK(nx_bootstrap_handler(b, add_client, &s, NULL));
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &client, &connected));
  t_await_ok(connected);
  t_wait_for(&s.closed, 1); /* the server's read timeout closed the connection */
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (t_log_count(&s.log, "removed") < 1 && t_now_ms() < deadline)
    t_sleep_ms(1);
  t_log_read(&s.log, text, sizeof(text));
  ASSERT(strncmp(text, "added registered active event-5", 31) == 0);
  ASSERT_EQ(t_log_count(&s.log, "event-5"), 1);
  ASSERT_EQ(t_log_count(&s.log, "exception-3007"), 1);
  ASSERT_EQ(t_log_count(&s.log, "inactive"), 1);
  ASSERT_EQ(t_log_count(&s.log, "removed"), 1);
  t_close_free(client);
  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}
