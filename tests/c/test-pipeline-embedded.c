/* C handlers on embedded channels: event order and exactly-once, echo through a handler,
 * exception routing of a negative code (to the same handler's exception callback, then to
 * the tail, returned by the next call), pipeline changes during events, the attachment's
 * free after handler_removed, virtual time, retained messages, user messages and events, no
 * buffer or handle leaked. */
#include "pipeline-helpers.h"

#include <ctype.h>

/* Adds the recorder (attachment: the log) as "rec". */
static int add_recorder(nx_channel_t *channel, void *log) {
  return nx_pipeline_add_last(channel, "rec", &t_recorder, log, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_event_order) {
  struct t_log log;
  nx_channel_t *ch;
  char text[8192];
  size_t live_buffers = nx_debug_live_buffers();
  nx_message_t *msg;
  t_log_init(&log);
  ASSERT_OK(nx_embedded_channel_new(add_recorder, &log, &ch));
  ASSERT_EQ(nx_channel_kind(ch), NX_CHANNEL_EMBEDDED);
  ASSERT_EQ(nx_channel_is_active(ch), 1);
  msg = t_text("one");
  /* The read reaches the tail, where an embedded channel keeps it. */
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &msg), 1);
  t_expect_text(msg, "one");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 1); /* one message left */
  t_log_read(&log, text, sizeof(text));
  ASSERT_STR_EQ(text, "added registered active read complete read complete inactive "
                      "unregistered removed");
  ASSERT_OK(nx_channel_free(ch)); /* releases what was left */
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

/* An upper-casing handler: reads bytes, writes an upper-case copy through the context. */
static int upper_read(nx_context_t *ctx, nx_message_t *msg, void *attachment) {
  const uint8_t *data;
  size_t len;
  char out[64];
  (void)attachment;
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  ASSERT_LT(len, sizeof(out));
  for (size_t i = 0; i < len; i++)
    out[i] = (char)toupper(data[i]);
  return nx_context_write_bytes(ctx, out, len, NULL);
}
static int upper_complete(nx_context_t *ctx, void *attachment) {
  (void)attachment;
  return nx_context_flush(ctx);
}
static const nx_channel_handler_t upper = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = upper_read,
    .channel_read_complete = upper_complete,
};

static int add_upper(nx_channel_t *channel, void *attachment) {
  (void)attachment;
  return nx_pipeline_add_last(channel, "upper", &upper, NULL, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_echo) {
  nx_channel_t *ch;
  size_t live_buffers = nx_debug_live_buffers();
  nx_message_t *msg = t_text("hello");
  ASSERT_OK(nx_embedded_channel_new(add_upper, NULL, &ch));
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 0); /* consumed by the handler */
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &msg), 1);
  t_expect_text(msg, "HELLO");
  ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &msg), 0);
  /* Outbound writes pass by a handler that takes no write. */
  msg = t_text("out");
  ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &msg), 1);
  t_expect_text(msg, "out");
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

/* A handler whose read fails with -EPROTO; its exception callback logs and passes it on. */
static int failing_read(nx_context_t *ctx, nx_message_t *msg, void *log) {
  (void)ctx;
  (void)msg;
  t_log_add(log, "failing-read");
  return -EPROTO;
}
static int failing_exception(nx_context_t *ctx, int error, void *log) {
  char name[32];
  snprintf(name, sizeof(name), "failing-exception%d", error);
  t_log_add(log, name);
  return nx_context_fire_exception_caught(ctx, error);
}
static const nx_channel_handler_t failing = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = failing_read,
    .exception_caught = failing_exception,
};

/* A handler whose exception callback itself fails: only reported, never looped. */
static int bad_exception(nx_context_t *ctx, int error, void *log) {
  (void)ctx;
  (void)error;
  t_log_add(log, "bad-exception");
  return -EIO;
}
static const nx_channel_handler_t bad = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = failing_read,
    .exception_caught = bad_exception,
};

static int add_failing(nx_channel_t *channel, void *log) {
  return nx_pipeline_add_last(channel, "failing", &failing, log, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_exception_routing) {
  struct t_log log;
  nx_channel_t *ch;
  nx_message_t *msg = t_text("x");
  char text[8192];
  uint64_t unhandled_before, unhandled_after;
  t_log_init(&log);
  ASSERT_OK(nx_embedded_channel_new(add_failing, &log, &ch));
  /* The read's -EPROTO goes to the same handler's exception callback, which passes it on to
   * the tail: the embedded channel returns it from the call (once). */
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), -EPROTO);
  ASSERT_OK(nx_embedded_channel_check_exception(ch));
  t_log_read(&log, text, sizeof(text));
  ASSERT_STR_EQ(text, "failing-read failing-exception-71");
  /* A failing exception callback is counted as unhandled, and not looped. */
  ASSERT_OK(nx_pipeline_add(ch, NX_PIPELINE_FIRST, NULL, "bad", &bad, &log, NULL, NULL));
  ASSERT_OK(nx_pipeline_unhandled_exceptions(&unhandled_before));
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 0);
  ASSERT_OK(nx_pipeline_unhandled_exceptions(&unhandled_after));
  ASSERT_EQ(unhandled_after, unhandled_before + 1);
  ASSERT_EQ(t_log_count(&log, "bad-exception"), 1);
  ASSERT_EQ(t_log_count(&log, "failing-read"), 2);
  /* Bad arguments. */
  ASSERT_EQ(nx_pipeline_add_last(ch, "bad", &bad, NULL, NULL, NULL), NX_EINVAL); /* taken */
  ASSERT_EQ(nx_pipeline_add_last(ch, NULL, &bad, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_pipeline_add_last(ch, "x", NULL, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_pipeline_remove(ch, "nobody"), NX_EINVAL);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_message_release(msg), NX_EBADHANDLE);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_channel_free(ch), NX_EBADHANDLE);
  return 0;
}

/* Pipeline changes from inside events: "swap" removes itself in its first read (and adds
 * "late" after itself, which must see that same read); the attachment is freed only after
 * the read that removed it returned. */
struct swap_state {
  struct t_log *log;
  nx_context_t *ctx;
  int freed;
  int freed_during_read;
  int in_read;
};

static void swap_free(void *arg) {
  struct swap_state *s = arg;
  if (s->in_read)
    s->freed_during_read = 1;
  s->freed++;
}

static int late_read(nx_context_t *ctx, nx_message_t *msg, void *log) {
  t_log_add(log, "late-read");
  return nx_context_fire_channel_read(ctx, msg);
}
static int late_added(nx_context_t *ctx, void *log) {
  (void)ctx;
  t_log_add(log, "late-added");
  return 0;
}
static const nx_channel_handler_t late = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = late_added,
    .channel_read = late_read,
};

static int swap_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct swap_state *s = arg;
  nx_channel_t *ch;
  s->in_read = 1;
  t_log_add(s->log, "swap-read");
  ASSERT_OK(nx_context_channel(ctx, &ch));
  ASSERT_OK(nx_pipeline_add(ch, NX_PIPELINE_AFTER, "swap", "late", &late, s->log, NULL, NULL));
  ASSERT_OK(nx_context_remove(ctx));
  /* Removed (handler_removed ran inside nx_context_remove), but this callback is still on
   * the stack: it may pass the read on (Netty's one-shot handler); it goes to "late". */
  ASSERT_OK(nx_context_fire_channel_read(ctx, msg));
  ASSERT_EQ(s->freed, 0);
  s->ctx = ctx;
  s->in_read = 0;
  return 0;
}
static int swap_removed(nx_context_t *ctx, void *arg) {
  struct swap_state *s = arg;
  (void)ctx;
  t_log_add(s->log, "swap-removed");
  return 0;
}
static const nx_channel_handler_t swap = {
    .size = sizeof(nx_channel_handler_t),
    .handler_removed = swap_removed,
    .channel_read = swap_read,
};

static int add_swap(nx_channel_t *channel, void *arg) {
  struct swap_state *s = arg;
  return nx_pipeline_add_last(channel, "swap", &swap, s, swap_free, NULL);
}

TEST_IMPL(pipeline_embedded_changes_during_events) {
  struct t_log log;
  struct swap_state s = {&log, NULL, 0, 0, 0};
  nx_channel_t *ch;
  nx_message_t *msg = t_text("a");
  char text[8192], names[64];
  size_t len;
  t_log_init(&log);
  ASSERT_OK(nx_embedded_channel_new(add_swap, &s, &ch));
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "swap");
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  ASSERT_EQ(s.freed, 1);
  ASSERT_EQ(s.freed_during_read, 0);
  /* Its callback returned: the removed handler's context is closed now. */
  ASSERT_EQ(nx_context_read(s.ctx), NX_ECLOSED);
  ASSERT_OK(nx_pipeline_names(ch, names, sizeof(names), &len));
  ASSERT_STR_EQ(names, "late");
  ASSERT_EQ(nx_pipeline_names(ch, names, 2, &len), -ERANGE);
  ASSERT_EQ(len, 4u);
  /* The next read reaches "late" (added during the first), and the tail. */
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  t_log_read(&log, text, sizeof(text));
  ASSERT_STR_EQ(text, "swap-read late-added swap-removed late-read late-read");
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_finish(ch), 1);
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* Virtual time: a handler schedules a timeout in channel_active; it fires only once the
 * test advances the clock past it, then closes the channel. */
struct idle_state {
  int fired;
  nx_promise_t *future;
};

static void idle_fire(nx_channel_t *channel, void *arg) {
  struct idle_state *s = arg;
  s->fired++;
  ASSERT_OK(nx_channel_close(channel, NULL));
}

static int idle_active(nx_context_t *ctx, void *arg) {
  struct idle_state *s = arg;
  nx_channel_t *ch;
  ASSERT_OK(nx_context_channel(ctx, &ch));
  ASSERT_OK(nx_channel_schedule(ch, 60 * 1000, idle_fire, s, NULL, &s->future));
  return nx_context_fire_channel_active(ctx);
}
static const nx_channel_handler_t idle = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = idle_active,
};

static int add_idle(nx_channel_t *channel, void *arg) {
  return nx_pipeline_add_last(channel, "idle", &idle, arg, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_virtual_time) {
  struct idle_state s = {0, NULL};
  nx_channel_t *ch;
  int64_t started = t_now_ms();
  ASSERT_OK(nx_embedded_channel_new(add_idle, &s, &ch));
  ASSERT_NOT_NULL(s.future);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 60 * 1000 - 1));
  ASSERT_EQ(s.fired, 0);
  ASSERT_EQ(nx_channel_is_open(ch), 1);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1));
  ASSERT_EQ(s.fired, 1);
  ASSERT_EQ(nx_channel_is_open(ch), 0);
  ASSERT_EQ(nx_promise_is_success(s.future), 1);
  ASSERT_LT(t_now_ms() - started, 60 * 1000); /* virtual, not real, time */
  ASSERT_OK(nx_promise_free(s.future));
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* What is scheduled on an embedded channel's loop itself (nx_channel_event_loop), and its
 * timers, come due on the virtual clock as well (Netty's EmbeddedEventLoop). */
static int add_to(nx_loop_t *loop, void *counter) {
  (void)loop;
  *(int *)counter += 1;
  return 0;
}
static void timer_fired(nx_timer_t *timer, void *counter) {
  (void)timer;
  *(int *)counter += 100;
}

TEST_IMPL(pipeline_embedded_loop_virtual_time) {
  nx_channel_t *ch;
  nx_loop_t *loop;
  nx_promise_t *future;
  nx_timer_t *timer;
  int ran = 0;
  int64_t started = t_now_ms();
  ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &ch));
  ASSERT_OK(nx_channel_event_loop(ch, &loop));
  ASSERT_OK(nx_loop_schedule(loop, 60 * 1000, add_to, &ran, NULL, &future));
  ASSERT_OK(nx_timer_new(loop, timer_fired, &ran, NULL, &timer));
  ASSERT_OK(nx_timer_start(timer, 90 * 1000, 0));
  ASSERT_OK(nx_embedded_channel_run_pending_tasks(ch));
  ASSERT_EQ(ran, 0);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 59 * 1000));
  ASSERT_EQ(ran, 0);
  ASSERT_EQ(nx_promise_is_done(future), 0);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 1000 + 1));
  ASSERT_EQ(ran, 1);
  ASSERT_EQ(nx_promise_is_success(future), 1);
  ASSERT_OK(nx_embedded_channel_advance_time(ch, 30 * 1000));
  ASSERT_EQ(ran, 101);
  ASSERT_LT(t_now_ms() - started, 60 * 1000); /* virtual, not real, time */
  ASSERT_OK(nx_promise_free(future));
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_embedded_channel_finish(ch));
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* Messages: retained past the callback, slices, user messages passed through handlers and
 * freed once, user events with tags, and the handles given to callbacks gone afterwards. */
struct keep_state {
  nx_message_t *kept;
  nx_message_t *lent;
};

static int keep_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct keep_state *s = arg;
  s->lent = msg;
  if (nx_message_type(msg) == NX_MESSAGE_BUFFER && s->kept == NULL)
    ASSERT_OK(nx_message_retain(msg, &s->kept));
  ASSERT_EQ(nx_message_release(msg), NX_EINVAL); /* lent: not the callback's to release */
  return nx_context_fire_channel_read(ctx, msg);
}
static const nx_channel_handler_t keep = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = keep_read,
};

static int add_keep(nx_channel_t *channel, void *arg) {
  return nx_pipeline_add_last(channel, "keep", &keep, arg, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_messages) {
  struct keep_state s = {NULL, NULL};
  nx_channel_t *ch;
  nx_message_t *msg, *slice, *user, *out;
  struct t_freed freed = {0, 0};
  const uint8_t *data;
  size_t len;
  int tag;
  void *ptr;
  size_t live_buffers = nx_debug_live_buffers();
  size_t live_messages, after;
  ASSERT_OK(nx_live_handles(NX_HANDLE_MESSAGE, &live_messages));
  ASSERT_OK(nx_embedded_channel_new(add_keep, &s, &ch));
  msg = t_text("retained bytes");
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
  ASSERT_OK(nx_message_release(msg));
  /* The lent handle died with the callback; the retained one lives on. */
  ASSERT_EQ(nx_message_type(s.lent), NX_EBADHANDLE);
  ASSERT_OK(nx_message_bytes(s.kept, &data, &len));
  ASSERT_EQ(len, 14u);
  ASSERT_OK(nx_message_slice(s.kept, 9, 5, &slice));
  ASSERT_OK(nx_message_release(s.kept));
  t_expect_text(slice, "bytes");
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &out), 1);
  t_expect_text(out, "retained bytes");
  /* A user message with a tag: passes through, reaches the tail, freed once at the end. */
  ASSERT_EQ(nx_message_new_user(-1, &freed, t_record_free, &user), NX_EINVAL);
  ASSERT_OK(nx_message_new_user(42, &freed, t_record_free, &user));
  ASSERT_EQ(nx_message_type(user), NX_MESSAGE_USER);
  ASSERT_EQ(nx_message_bytes(user, &data, &len), NX_EINVAL);
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, user), 1);
  ASSERT_OK(nx_message_release(user));
  ASSERT_EQ(freed.count, 0); /* the tail's queue holds it */
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &out), 1);
  ASSERT_OK(nx_message_user(out, &tag, &ptr));
  ASSERT_EQ(tag, 42);
  ASSERT_PTR_EQ(ptr, &freed);
  ASSERT_OK(nx_message_release(out));
  ASSERT_EQ(freed.count, 1);
  /* Owned memory: released once the message is gone. */
  {
    char *owned = strdup("owned");
    ASSERT_OK(nx_message_new_owned(owned, 5, free, &msg));
    ASSERT_EQ(nx_embedded_channel_write_outbound(ch, msg), 1);
    ASSERT_OK(nx_message_release(msg));
    ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &out), 1);
    t_expect_text(out, "owned");
  }
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_OK(nx_live_handles(NX_HANDLE_MESSAGE, &after));
  ASSERT_EQ(after, live_messages);
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}

/* Built-in and user events reach C handlers as tagged user messages. */
static int add_recorder_half_closed(nx_channel_t *channel, void *log) {
  return add_recorder(channel, log);
}

TEST_IMPL(pipeline_embedded_user_events) {
  struct t_log log;
  nx_channel_t *ch;
  nx_context_t *ctx;
  nx_message_t *event;
  struct t_freed freed = {0, 0};
  t_log_init(&log);
  ASSERT_OK(nx_embedded_channel_new(add_recorder_half_closed, &log, &ch));
  ASSERT_OK(nx_pipeline_get(ch, "rec", &ctx));
  ASSERT_EQ(nx_pipeline_get(ch, "nobody", &ctx), NX_EINVAL);
  ASSERT_OK(nx_message_new_user(7, &freed, t_record_free, &event));
  /* Fired from the context of "rec": goes to the handlers after it (none but the tail). */
  ASSERT_OK(nx_context_fire_user_event(ctx, event));
  ASSERT_OK(nx_message_release(event));
  ASSERT_EQ(freed.count, 1);
  ASSERT_EQ(t_log_count(&log, "event7"), 0);
  {
    const char *name;
    ASSERT_OK(nx_context_name(ctx, &name));
    ASSERT_STR_EQ(name, "rec");
  }
  /* Fired at the pipeline's head: every handler sees them. */
  ASSERT_OK(nx_message_new_user(8, NULL, NULL, &event));
  ASSERT_OK(nx_pipeline_fire_user_event(ch, event));
  ASSERT_OK(nx_message_release(event));
  ASSERT_EQ(t_log_count(&log, "event8"), 1);
  ASSERT_OK(nx_pipeline_fire_exception_caught(ch, -EIO));
  ASSERT_EQ(nx_pipeline_fire_exception_caught(ch, 0), NX_EINVAL);
  ASSERT_EQ(t_log_count(&log, "exception-5"), 1); /* the recorder handles it */
  {
    nx_message_t *msg = t_text("head"), *out;
    ASSERT_OK(nx_pipeline_fire_channel_read(ch, msg));
    ASSERT_OK(nx_pipeline_fire_channel_read_complete(ch));
    ASSERT_OK(nx_message_release(msg));
    ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &out), 1);
    t_expect_text(out, "head");
  }
  ASSERT_OK(nx_channel_shutdown_output(ch, NULL)); /* no socket: refused, no event */
  ASSERT_OK(nx_embedded_channel_run_pending_tasks(ch));
  ASSERT_EQ(t_log_count(&log, "event-3"), 0);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  /* After handler_removed the context is closed, also once teardown freed its handle. */
  {
    const char *name;
    ASSERT_EQ(nx_context_name(ctx, &name), NX_ECLOSED);
  }
  ASSERT_EQ(nx_context_read(ctx), NX_ECLOSED);
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* The attachment's free runs once, after handler_removed, on the channel's close. */
TEST_IMPL(pipeline_embedded_attachment_free) {
  nx_channel_t *ch;
  struct t_freed freed = {0, 0};
  struct t_log log;
  nx_context_t *ctx;
  t_log_init(&log);
  ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &ch));
  ASSERT_OK(nx_pipeline_add_last(ch, "rec", &t_recorder, &log, NULL, &ctx));
  ASSERT_OK(nx_channel_set_attachment(ch, &freed, t_record_free));
  {
    void *att;
    ASSERT_OK(nx_channel_attachment(ch, &att));
    ASSERT_PTR_EQ(att, &freed);
  }
  ASSERT_OK(nx_context_read(ctx));
  ASSERT_OK(nx_pipeline_remove(ch, "rec"));
  ASSERT_EQ(nx_context_read(ctx), NX_ECLOSED);
  ASSERT_EQ(freed.count, 0);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_EQ(freed.count, 1);
  ASSERT(pthread_equal(freed.thread, pthread_self()));
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(freed.count, 1);
  return 0;
}

/* An outbound handler that holds writes back: it keeps each write's promise (lent for the
 * call, retained past it) and message, and completes the promise itself later. */
struct holder {
  nx_promise_t *lent;
  nx_promise_t *kept;
  nx_message_t *msg;
  int flushes;
};

static int hold_write(nx_context_t *ctx, nx_message_t *msg, nx_promise_t *promise, void *arg) {
  struct holder *h = arg;
  (void)ctx;
  h->lent = promise;
  ASSERT_OK(nx_promise_retain(promise, &h->kept));
  ASSERT_OK(nx_message_retain(msg, &h->msg));
  return 0; /* not passed on */
}
static int hold_flush(nx_context_t *ctx, void *arg) {
  struct holder *h = arg;
  h->flushes++;
  return nx_context_flush(ctx);
}
static const nx_channel_handler_t holder_handler = {
    .size = sizeof(nx_channel_handler_t),
    .write = hold_write,
    .flush = hold_flush,
};

static int add_holder(nx_channel_t *ch, void *arg) {
  return nx_pipeline_add_last(ch, "holder", &holder_handler, arg, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_outbound_handler) {
  struct holder h = {NULL, NULL, NULL, 0};
  nx_channel_t *ch;
  nx_promise_t *written;
  nx_message_t *out;
  ASSERT_OK(nx_embedded_channel_new(add_holder, &h, &ch));
  ASSERT_OK(nx_promise_new(NULL, &written));
  ASSERT_OK(nx_channel_write_bytes(ch, "held", 4, written));
  ASSERT_OK(nx_channel_flush(ch));
  ASSERT_OK(nx_embedded_channel_run_pending_tasks(ch));
  ASSERT_EQ(h.flushes, 1);
  ASSERT_EQ(nx_promise_is_done(written), 0);
  ASSERT_EQ(nx_promise_is_done(h.lent), NX_EBADHANDLE); /* lent for the call only */
  ASSERT_EQ(nx_embedded_channel_read_outbound(ch, &out), 0); /* held back */
  /* The handler completes the write itself, through its retained handle. */
  ASSERT_EQ(nx_promise_try_success(h.kept, NULL, NULL), 1);
  ASSERT_EQ(nx_promise_is_success(written), 1);
  t_expect_text(h.msg, "held");
  ASSERT_OK(nx_promise_free(h.kept));
  ASSERT_OK(nx_promise_free(written));
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* A handler that removes itself inside its read and then fails it: its exception callback
 * is not called (its attachment is freed once the read returned), the next handler gets the
 * failure. */
static int removed_exceptions, next_exceptions;
static int remove_then_fail_read(nx_context_t *ctx, nx_message_t *msg, void *attachment) {
  (void)msg;
  (void)attachment;
  ASSERT_OK(nx_context_remove(ctx));
  return -EPROTO;
}
static int remove_then_fail_exception(nx_context_t *ctx, int error, void *attachment) {
  (void)attachment;
  removed_exceptions++;
  return nx_context_fire_exception_caught(ctx, error);
}
static int next_exception(nx_context_t *ctx, int error, void *attachment) {
  (void)attachment;
  next_exceptions++;
  return nx_context_fire_exception_caught(ctx, error);
}
static const nx_channel_handler_t remove_then_fail = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = remove_then_fail_read,
    .exception_caught = remove_then_fail_exception,
};
static const nx_channel_handler_t next_handler = {
    .size = sizeof(nx_channel_handler_t),
    .exception_caught = next_exception,
};
static int add_remove_then_fail(nx_channel_t *channel, void *attachment) {
  (void)attachment;
  int *state = malloc(sizeof(int));
  if (state == NULL)
    return -ENOMEM;
  int rc = nx_pipeline_add_last(channel, "gone", &remove_then_fail, state, free, NULL);
  if (rc < 0) {
    free(state);
    return rc;
  }
  return nx_pipeline_add_last(channel, "next", &next_handler, NULL, NULL, NULL);
}

TEST_IMPL(pipeline_embedded_removed_handler_failure) {
  nx_channel_t *ch;
  size_t live_buffers = nx_debug_live_buffers();
  nx_message_t *msg = t_text("x");
  removed_exceptions = next_exceptions = 0;
  ASSERT_OK(nx_embedded_channel_new(add_remove_then_fail, NULL, &ch));
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), -EPROTO);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(removed_exceptions, 0);
  ASSERT_EQ(next_exceptions, 1);
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  return 0;
}
