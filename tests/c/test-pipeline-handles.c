/* Pipeline handles: an accepted channel's handle is nioxide's until the channel is torn down
 * unless retained; the server channel reads accepted channels as messages; misuse (NULL,
 * wrong type, freed, nioxide's own, a short handler table) is an error; calls on a channel's
 * and a context's handles from the loop thread take the fast path (no reader count). */
#include "pipeline-helpers.h"

#include <stddef.h>

struct accepted {
  nx_channel_t *server;
  nx_channel_t *children[2];
  int count;
  int retain_first;
  int accepted_reads; /* NX_MESSAGE_CHANNEL reads the server channel saw */
  uint64_t reader_entries;
};

static int init_child(nx_channel_t *ch, void *arg) {
  struct accepted *a = arg;
  nx_channel_t *parent;
  int i = a->count;
  a->children[i] = ch;
  ASSERT_EQ(nx_channel_free(ch), NX_EINVAL); /* nioxide's, not ours */
  if (i == 0 && a->retain_first) {
    ASSERT_OK(nx_channel_retain(ch));
    ASSERT_EQ(nx_channel_retain(ch), NX_EINVAL); /* already ours */
  }
  ASSERT_OK(nx_channel_parent(ch, &parent));
  ASSERT_PTR_EQ(parent, a->server);
  t_store(&a->count, i + 1);
  return 0;
}

static int server_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct accepted *a = arg;
  nx_channel_t *child;
  ASSERT_EQ(nx_message_type(msg), NX_MESSAGE_CHANNEL);
  ASSERT_OK(nx_message_channel(msg, &child));
  ASSERT_EQ(nx_channel_kind(child), NX_CHANNEL_TCP);
  a->accepted_reads++;
  return nx_context_fire_channel_read(ctx, msg); /* on to the acceptor */
}
static const nx_channel_handler_t server_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = server_read,
};

static int init_server(nx_channel_t *ch, void *arg) {
  struct accepted *a = arg;
  a->server = ch;
  return nx_pipeline_add_last(ch, "server", &server_handler, arg, NULL, NULL);
}

TEST_IMPL(pipeline_handles_accepted_and_retained) {
  struct accepted a;
  struct sockaddr_storage ss;
  socklen_t len;
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *clients[2];
  nx_promise_t *bound, *connected;
  memset(&a, 0, sizeof(a));
  a.retain_first = 1;
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_handler(sb, init_server, &a, NULL));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, init_child, &a, NULL));
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_PTR_EQ(a.server, server); /* the initializer saw the handle the caller got */
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&ss, len, &clients[i], &connected));
    t_await_ok(connected);
    t_wait_for(&a.count, i + 1);
  }
  for (int i = 0; i < 2; i++)
    t_close_free(clients[i]);
  /* The retained child's handle outlives its channel; the other one is freed by nioxide
   * once its channel is torn down. */
  t_await_closed(a.children[0]);
  ASSERT_EQ(nx_channel_is_open(a.children[0]), 0);
  ASSERT_EQ(nx_channel_kind(a.children[0]), NX_CHANNEL_TCP);
  ASSERT_OK(nx_channel_free(a.children[0]));
  ASSERT_EQ(nx_channel_kind(a.children[0]), NX_EBADHANDLE);
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (nx_channel_kind(a.children[1]) != NX_EBADHANDLE) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  ASSERT_EQ(a.accepted_reads, 2);
  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
  return 0;
}

/* A table whose size stops before channel_read: that callback is not called (a caller built
 * against an older, shorter header). */
static int never_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  (void)ctx;
  (void)msg;
  (void)arg;
  ASSERT(0 && "a field past size was called");
  return 0;
}

TEST_IMPL(pipeline_handles_misuse) {
  nx_channel_t *ch;
  nx_promise_t *promise;
  nx_message_t *msg = t_text("m"), *out;
  nx_channel_handler_t table = t_recorder;
  struct t_log log;
  t_log_init(&log);
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_channel_is_open(NULL), NX_EINVAL);
  ASSERT_EQ(nx_channel_is_open((nx_channel_t *)promise), NX_EINVAL);
  ASSERT_EQ(nx_context_read(NULL), NX_EINVAL);
  ASSERT_EQ(nx_message_type((nx_message_t *)promise), NX_EINVAL);
  ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &ch));
  /* Too short a table, and a table that ends before channel_read. */
  table.size = 0;
  ASSERT_EQ(nx_pipeline_add_last(ch, "short", &table, NULL, NULL, NULL), NX_EINVAL);
  table.size = offsetof(nx_channel_handler_t, channel_read);
  table.channel_read = never_read;
  ASSERT_OK(nx_pipeline_add_last(ch, "old", &table, &log, NULL, NULL));
  ASSERT_EQ(nx_pipeline_add(ch, 99, NULL, "x", &table, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_pipeline_add(ch, NX_PIPELINE_BEFORE, "nobody", "x", &table, NULL, NULL, NULL),
            NX_EINVAL);
  ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1); /* passed "old" by */
  ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &out), 1);
  t_expect_text(out, "m");
  ASSERT_EQ(t_log_count(&log, "added"), 1);
  /* A promise nioxide may not complete (a task's future) is refused for a write. */
  {
    nx_loop_t *loop;
    nx_promise_t *future;
    ASSERT_OK(nx_loop_new(&loop));
    ASSERT_OK(nx_loop_submit(loop, t_thread_task, NULL, NULL, &future));
    ASSERT_EQ(nx_channel_write(ch, msg, future), NX_EINVAL);
    ASSERT_OK(nx_promise_free(future));
    ASSERT_OK(nx_loop_close(loop));
    ASSERT_OK(nx_loop_free(loop));
  }
  /* Options: unknown, out of range. */
  ASSERT_EQ(nx_channel_set_option(ch, 999, 0), NX_EINVAL);
  ASSERT_EQ(nx_channel_set_option(ch, NX_OPTION_AUTO_READ, 2), NX_EINVAL);
  ASSERT_EQ(nx_channel_set_option(ch, NX_OPTION_TCP_NODELAY, 1), NX_ENOOPT);
  ASSERT_EQ(nx_embedded_channel_write_inbound((nx_channel_t *)msg, msg), NX_EINVAL);
  ASSERT_OK(nx_message_release(msg));
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_channel_free(ch), NX_EBADHANDLE);
  ASSERT_EQ(nx_channel_is_open(ch), NX_EBADHANDLE);
  ASSERT_OK(nx_promise_free(promise));
  return 0;
}

/* Calls on the channel's and the context's handles from the loop thread take the fast path:
 * no reader registration. */
struct fast {
  uint64_t reader_entries;
  int done;
};

static int fast_active(nx_context_t *ctx, void *arg) {
  struct fast *f = arg;
  nx_channel_t *ch;
  uint64_t before = nx_debug_reader_entries();
  ASSERT_OK(nx_context_channel(ctx, &ch));
  ASSERT_EQ(nx_channel_is_active(ch), 1);
  ASSERT_EQ(nx_channel_is_writable(ch), 1);
  ASSERT_OK(nx_context_fire_channel_active(ctx));
  ASSERT_OK(nx_context_flush(ctx));
  f->reader_entries = nx_debug_reader_entries() - before;
  t_store(&f->done, 1);
  return 0;
}
static const nx_channel_handler_t fast_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = fast_active,
};

static int init_fast(nx_channel_t *ch, void *arg) {
  return nx_pipeline_add_last(ch, "fast", &fast_handler, arg, NULL, NULL);
}

TEST_IMPL(pipeline_handles_fast_path_on_loop) {
  struct fast f = {99, 0};
  struct sockaddr_un un;
  socklen_t len = t_local_address("fast-path", &un);
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *client;
  nx_promise_t *bound, *connected;
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_channel(sb, NX_CHANNEL_LOCAL_SERVER));
  ASSERT_EQ(nx_server_bootstrap_channel(sb, NX_CHANNEL_TCP), NX_EINVAL);
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, init_fast, &f, NULL));
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&un, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  ASSERT_EQ(nx_bootstrap_channel(b, NX_CHANNEL_LOCAL_SERVER), NX_EINVAL);
  ASSERT_OK(nx_bootstrap_channel(b, NX_CHANNEL_LOCAL));
  ASSERT_OK(nx_bootstrap_connect(b, (struct sockaddr *)&un, len, &client, &connected));
  t_await_ok(connected);
  t_wait_for(&f.done, 1);
  ASSERT_EQ(f.reader_entries, 0u);
  {
    struct sockaddr_storage ss;
    socklen_t sl;
    ASSERT_OK(nx_channel_remote_address(client, &ss, &sl));
    ASSERT_EQ(ss.ss_family, AF_UNIX);
    ASSERT_STR_EQ(((struct sockaddr_un *)&ss)->sun_path, "fast-path");
  }
  t_close_free(client);
  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
  return 0;
}

/* Lent messages nested deeper than a thread keeps lend slots for: a chain of handlers, each
 * passing the read on inline, so every lend is inside the one before. Each handler reads its
 * lent message with no reader registration (the lending thread's own look-up), and once the
 * chain has returned every lent handle is closed. */
#define NEST_DEPTH 12

struct nest {
  nx_message_t *lent[NEST_DEPTH];
  int seen;
  uint64_t reader_entries;
};

static int nest_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct nest *n = arg;
  const uint8_t *data;
  size_t len;
  uint64_t before = nx_debug_reader_entries();
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  n->reader_entries += nx_debug_reader_entries() - before;
  ASSERT_EQ(len, 4u);
  ASSERT(memcmp(data, "nest", 4) == 0);
  ASSERT_LT(n->seen, NEST_DEPTH);
  n->lent[n->seen++] = msg;
  ASSERT_OK(nx_context_fire_channel_read(ctx, msg));
  /* Still lent after the handlers after this one returned. */
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  ASSERT_EQ(len, 4u);
  return 0;
}
static const nx_channel_handler_t nest_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = nest_read,
};

TEST_IMPL(pipeline_lent_messages_nested_deep) {
  struct nest n;
  nx_channel_t *ch;
  nx_message_t *msg, *out;
  const uint8_t *data;
  size_t len, live = nx_debug_live_buffers();
  int i, round;
  memset(&n, 0, sizeof n);
  ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &ch));
  for (i = 0; i < NEST_DEPTH; i++) {
    char name[16];
    snprintf(name, sizeof name, "nest%d", i);
    ASSERT_OK(nx_pipeline_add_last(ch, name, &nest_handler, &n, NULL, NULL));
  }
  /* Twice: the second round reuses the lend slots the first one made. */
  for (round = 0; round < 2; round++) {
    n.seen = 0;
    n.reader_entries = 0;
    msg = t_text("nest");
    ASSERT_EQ(nx_embedded_channel_write_inbound(ch, msg), 1);
    ASSERT_OK(nx_message_release(msg));
    ASSERT_EQ(n.seen, NEST_DEPTH);
    ASSERT_EQ(n.reader_entries, 0u);
    for (i = 0; i < NEST_DEPTH; i++) {
      ASSERT_EQ(nx_message_bytes(n.lent[i], &data, &len), NX_EBADHANDLE);
      ASSERT_EQ(nx_message_release(n.lent[i]), NX_EBADHANDLE);
    }
    ASSERT_EQ(nx_embedded_channel_read_inbound(ch, &out), 1);
    t_expect_text(out, "nest"); /* and releases it */
  }
  ASSERT_EQ(nx_embedded_channel_finish(ch), 0);
  ASSERT_OK(nx_channel_free(ch));
  ASSERT_EQ(nx_debug_live_buffers(), live);
  return 0;
}

/* A table from a header whose `size` ends inside a callback's field (not a whole number of
 * fields): that field counts as NULL, as the fields past `size` do; it is never called
 * through a pointer cut short. */
static int partial_added(nx_context_t *ctx, void *attachment) {
  (void)ctx;
  ++*(int *)attachment;
  return 0;
}

static int add_partial(nx_channel_t *ch, void *calls) {
  nx_channel_handler_t table = {.handler_added = partial_added};
  table.size = offsetof(nx_channel_handler_t, handler_added) + sizeof(void *) / 2;
  return nx_pipeline_add_last(ch, "partial", &table, calls, NULL, NULL);
}

TEST_IMPL(pipeline_handler_size_inside_a_field) {
  nx_channel_t *ch;
  int calls = 0;
  ASSERT_OK(nx_embedded_channel_new(add_partial, &calls, &ch));
  ASSERT_EQ(calls, 0);
  ASSERT_OK(nx_embedded_channel_finish(ch));
  ASSERT_OK(nx_channel_free(ch));
  return 0;
}

/* A context handle that outlived its handler (its channel was torn down and nioxide freed
 * the handle) answers NX_ECLOSED from any thread, the loop's included; a pointer that never
 * was a context handle stays NX_EBADHANDLE. */
struct outlived {
  nx_context_t *ctx;
  nx_channel_t *child;
  nx_loop_t *loop;
  int added;
  int removed;
  int on_loop[4]; /* results of calls from the loop's thread */
  int on_loop_done;
};

static int outlived_added(nx_context_t *ctx, void *arg) {
  struct outlived *o = arg;
  ASSERT_OK(nx_context_channel(ctx, &o->child));
  o->ctx = ctx;
  t_store(&o->added, 1);
  return 0;
}
static int outlived_removed(nx_context_t *ctx, void *arg) {
  (void)ctx;
  t_store(&((struct outlived *)arg)->removed, 1);
  return 0;
}
static const nx_channel_handler_t outlived_handler = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = outlived_added,
    .handler_removed = outlived_removed,
};

static int init_outlived(nx_channel_t *ch, void *arg) {
  return nx_pipeline_add_last(ch, "kept", &outlived_handler, arg, NULL, NULL);
}

static int outlived_on_loop(nx_loop_t *loop, void *arg) {
  struct outlived *o = arg;
  const char *name;
  nx_channel_t *ch;
  ASSERT_EQ(nx_loop_in_event_loop(loop), 1);
  o->on_loop[0] = nx_context_flush(o->ctx);
  o->on_loop[1] = nx_context_write_bytes(o->ctx, "x", 1, NULL);
  o->on_loop[2] = nx_context_name(o->ctx, &name);
  o->on_loop[3] = nx_context_channel(o->ctx, &ch);
  t_store(&o->on_loop_done, 1);
  return 0;
}

TEST_IMPL(pipeline_context_outlived_is_closed) {
  struct outlived o;
  nx_loop_group_t *group;
  nx_channel_t *server, *client, *ch;
  nx_message_t *msg = t_text("late");
  const char *name = NULL;
  memset(&o, 0, sizeof(o));
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &o.loop));
  server = t_local_server(group, "outlived", init_outlived, &o, 1);
  client = t_local_connect(group, "outlived", NULL, NULL);
  t_wait_for(&o.added, 1);
  /* Live: works from this thread (queued). */
  ASSERT_OK(nx_context_flush(o.ctx));
  ASSERT_OK(nx_context_name(o.ctx, &name));
  ASSERT_STR_EQ(name, "kept");
  t_close_free(client);
  /* The accepted channel's teardown frees its handle and its contexts' handles. */
  t_wait_for(&o.removed, 1);
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (nx_channel_kind(o.child) != NX_EBADHANDLE) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  /* From another thread. */
  ASSERT_EQ(nx_context_flush(o.ctx), NX_ECLOSED);
  ASSERT_EQ(nx_context_read(o.ctx), NX_ECLOSED);
  ASSERT_EQ(nx_context_fire_channel_read(o.ctx, msg), NX_ECLOSED);
  ASSERT_EQ(nx_context_write(o.ctx, msg, NULL), NX_ECLOSED);
  ASSERT_EQ(nx_context_close(o.ctx, NULL), NX_ECLOSED);
  ASSERT_EQ(nx_context_remove(o.ctx), NX_ECLOSED);
  {
    const char *kept = name; /* the string itself went with the handle */
    ASSERT_EQ(nx_context_name(o.ctx, &name), NX_ECLOSED);
    ASSERT_PTR_EQ(name, kept); /* unchanged on error */
  }
  ASSERT_EQ(nx_context_channel(o.ctx, &ch), NX_ECLOSED);
  /* From the loop's thread. */
  ASSERT_OK(nx_loop_execute(o.loop, outlived_on_loop, &o, NULL));
  t_wait_for(&o.on_loop_done, 1);
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(o.on_loop[i], NX_ECLOSED);
  /* Never handed out: a later generation of the same slot, a slot that does not exist. */
  {
    uintptr_t raw = (uintptr_t)o.ctx;
    nx_context_t *ahead = (nx_context_t *)(raw + ((uintptr_t)1 << 62));
    nx_context_t *nowhere = (nx_context_t *)((raw & ~(uintptr_t)0xFFFFFFFF00) | 0xFFFFFF00);
    ASSERT_EQ(nx_context_flush(ahead), NX_EBADHANDLE);
    ASSERT_EQ(nx_context_name(ahead, &name), NX_EBADHANDLE);
    ASSERT_EQ(nx_context_flush(nowhere), NX_EBADHANDLE);
    /* Another type's handle is no context at all. */
    ASSERT_EQ(nx_context_flush((nx_context_t *)msg), NX_EINVAL);
  }
  ASSERT_OK(nx_message_release(msg));
  t_close_free(server);
  t_free_group(group);
  return 0;
}

/* nx_channel_event_loop: the loop a channel's handlers run on, as a handle nioxide owns (the
 * same on every call, never freed by the user) until the channel is torn down. */
struct loop_seen {
  nx_loop_t *loop;
  int in_loop;
  int done;
};

static int loop_active(nx_context_t *ctx, void *arg) {
  struct loop_seen *s = arg;
  nx_channel_t *ch;
  nx_loop_t *again;
  ASSERT_OK(nx_context_channel(ctx, &ch));
  ASSERT_OK(nx_channel_event_loop(ch, &s->loop));
  ASSERT_OK(nx_channel_event_loop(ch, &again));
  ASSERT_PTR_EQ(again, s->loop);
  s->in_loop = nx_loop_in_event_loop(s->loop);
  t_store(&s->done, 1);
  return nx_context_fire_channel_active(ctx);
}
static const nx_channel_handler_t loop_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = loop_active,
};

static int init_loop_seen(nx_channel_t *ch, void *arg) {
  return nx_pipeline_add_last(ch, "loop", &loop_handler, arg, NULL, NULL);
}

static int count_on_loop(nx_loop_t *loop, void *counter) {
  ASSERT_EQ(nx_loop_in_event_loop(loop), 1);
  t_store((int *)counter, t_load((int *)counter) + 1);
  return 0;
}

TEST_IMPL(pipeline_channel_event_loop) {
  struct loop_seen seen;
  nx_loop_group_t *group;
  nx_loop_t *group_loop, *client_loop, *embedded_loop;
  nx_channel_t *server, *client, *embedded;
  int ran = 0;
  memset(&seen, 0, sizeof(seen));
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &group_loop));
  server = t_local_server(group, "channel-loop", init_loop_seen, &seen, 1);
  client = t_local_connect(group, "channel-loop", NULL, NULL);
  t_wait_for(&seen.done, 1);
  ASSERT_EQ(seen.in_loop, 1); /* asked inside a handler: that is the loop's thread */
  ASSERT_EQ(nx_channel_event_loop(client, NULL), NX_EINVAL);
  ASSERT_OK(nx_channel_event_loop(client, &client_loop));
  ASSERT_EQ(nx_loop_in_event_loop(client_loop), 0); /* this thread does not run it */
  /* The group's only loop, under another handle: the same thread runs both. */
  ASSERT(pthread_equal(t_loop_thread(client_loop), t_loop_thread(group_loop)));
  ASSERT(pthread_equal(t_loop_thread(seen.loop), t_loop_thread(group_loop)));
  ASSERT_OK(nx_loop_execute(client_loop, count_on_loop, &ran, NULL));
  t_wait_for(&ran, 1);
  ASSERT_EQ(nx_loop_free(client_loop), NX_EINVAL); /* the channel's */
  /* Torn down: the loop's handle went with the channel; the channel's (ours) says so. */
  t_close_free(server);
  ASSERT_OK(nx_channel_close(client, NULL));
  t_await_closed(client);
  { /* the teardown is a listener of the close future: it may run just after the wait */
    int64_t deadline = t_now_ms() + T_LIMIT_MS;
    while (nx_channel_event_loop(client, &embedded_loop) != NX_ECLOSED) {
      ASSERT(t_now_ms() < deadline);
      t_sleep_ms(1);
    }
  }
  ASSERT_EQ(nx_loop_execute(client_loop, count_on_loop, &ran, NULL), NX_EBADHANDLE);
  ASSERT_OK(nx_channel_free(client));
  /* An embedded channel's loop is its own: its tasks run in run_pending_tasks. */
  ASSERT_OK(nx_embedded_channel_new(NULL, NULL, &embedded));
  ASSERT_OK(nx_channel_event_loop(embedded, &embedded_loop));
  ASSERT_EQ(nx_loop_in_event_loop(embedded_loop), 1); /* this thread drives it */
  ASSERT_OK(nx_loop_execute(embedded_loop, count_on_loop, &ran, NULL));
  ASSERT_EQ(ran, 1);
  ASSERT_OK(nx_embedded_channel_run_pending_tasks(embedded));
  ASSERT_EQ(ran, 2);
  ASSERT_OK(nx_embedded_channel_finish(embedded));
  ASSERT_OK(nx_channel_free(embedded));
  t_free_group(group);
  return 0;
}

/* An exception that reaches a channel's tail is reported through the channel's loop: written
 * to standard error and counted by that loop (NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS), not by
 * another loop, and in the process-wide count; the channel stays open. */
static uint64_t unhandled_on(nx_loop_t *loop) {
  uint64_t n = 0;
  ASSERT_OK(nx_loop_counter(loop, NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS, &n));
  return n;
}

TEST_IMPL(pipeline_unhandled_exception_counted_by_its_loop) {
  nx_loop_group_t *servers, *clients;
  nx_loop_t *server_loop, *client_loop;
  nx_channel_t *server, *client;
  uint64_t process_before, process_after;
  int pipefd[2], saved;
  char text[512] = {0};
  ASSERT_OK(nx_loop_group_new(1, &servers));
  ASSERT_OK(nx_loop_group_new(1, &clients));
  server = t_local_server(servers, "unhandled-per-loop", NULL, NULL, 1);
  client = t_local_connect(clients, "unhandled-per-loop", NULL, NULL);
  ASSERT_OK(nx_channel_event_loop(server, &server_loop));
  ASSERT_OK(nx_channel_event_loop(client, &client_loop));
  ASSERT_EQ(nx_loop_counter(client_loop, 99, &process_before), NX_EINVAL);
  uint64_t server_before = unhandled_on(server_loop), client_before = unhandled_on(client_loop);
  ASSERT_OK(nx_pipeline_unhandled_exceptions(&process_before));
  /* Standard error goes to a pipe while the report is written. */
  ASSERT_OK(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK));
  saved = dup(2);
  ASSERT_GE(saved, 0);
  ASSERT_GE(dup2(pipefd[1], 2), 0);
  ASSERT_OK(nx_pipeline_fire_exception_caught(client, -EIO));
  /* The report is written after the count: wait for the text itself. */
  short ready = t_poll(pipefd[0], POLLIN, T_LIMIT_MS);
  ASSERT_GE(dup2(saved, 2), 0);
  close(saved);
  ASSERT(ready & POLLIN);
  ASSERT_GT(read(pipefd[0], text, sizeof(text) - 1), 0);
  close(pipefd[0]);
  close(pipefd[1]);
  ASSERT(strstr(text, "reached the tail") != NULL);
  ASSERT_EQ(unhandled_on(client_loop), client_before + 1);
  ASSERT_EQ(unhandled_on(server_loop), server_before);
  ASSERT_OK(nx_pipeline_unhandled_exceptions(&process_after));
  ASSERT_GE(process_after, process_before + 1);
  ASSERT_EQ(nx_channel_is_open(client), 1);
  t_close_free(client);
  t_close_free(server);
  t_free_group(servers);
  t_free_group(clients);
  return 0;
}
