/* Local channels' backpressure: the peer queues at most 128 KiB (each message counted with
 * a per-entry overhead); beyond that, writes wait in the writer's outbound buffer, count
 * towards its water marks (writability events, one per crossing) and go out, in order and
 * byte-exact, as the peer's reads drain its queue. A server's auto-read gates accepting. */
#include "pipeline-helpers.h"

enum { PEER_QUEUE = 128 * 1024, CHUNK = 16 * 1024, WRITES = 32 };

struct local_side {
  nx_channel_t *child;
  struct t_sink sink;
  struct t_log log;
  int entered; /* writes whose promise succeeded: they entered the peer's queue */
  int failed;
};

static int init_reader(nx_channel_t *ch, void *arg) {
  struct local_side *s = arg;
  s->child = ch;
  ASSERT_OK(nx_channel_set_option(ch, NX_OPTION_AUTO_READ, 0)); /* reads later */
  ASSERT_OK(nx_pipeline_add_last(ch, "rec", &t_recorder, &s->log, NULL, NULL));
  return nx_pipeline_add_last(ch, "sink", &t_sink_handler, &s->sink, NULL, NULL);
}

static int init_writer(nx_channel_t *ch, void *log) {
  return nx_pipeline_add_last(ch, "rec", &t_recorder, log, NULL, NULL);
}

static void count_entered(nx_promise_t *promise, void *arg) {
  struct local_side *s = arg;
  if (nx_promise_is_success(promise) == 1)
    t_store(&s->entered, t_load(&s->entered) + 1);
  else
    t_store(&s->failed, t_load(&s->failed) + 1);
  ASSERT_OK(nx_promise_free(promise));
}

/* Waits (bounded) until `*value` is above 0 and then stays the same for 100 ms; returns it. */
static int settled(const int *value) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  int last = -1;
  for (;;) {
    ASSERT(t_now_ms() < deadline);
    int now = t_load(value);
    if (now > 0 && now == last)
      return now;
    last = now;
    t_sleep_ms(100);
  }
}

TEST_IMPL(pipeline_local_backpressure) {
  struct local_side s;
  struct t_log writer_log;
  nx_loop_group_t *group;
  nx_channel_t *server, *client;
  nx_loop_t *loop;
  uint8_t *data = t_random_bytes((size_t)WRITES * CHUNK, 7);
  size_t queued;
  memset(&s, 0, sizeof(s));
  t_log_init(&s.log);
  t_log_init(&writer_log);
  s.sink.expect = data;
  s.sink.want = (size_t)WRITES * CHUNK;
  ASSERT_OK(nx_loop_group_new(2, &group));
  ASSERT_OK(nx_loop_group_next(group, &loop));
  server = t_local_server(group, "backpressure", init_reader, &s, 1);
  client = t_local_connect(group, "backpressure", init_writer, &writer_log);
  while (t_log_count(&s.log, "active") < 1)
    t_sleep_ms(1);
  /* 512 KiB against a peer that does not read: 128 KiB enter its queue, the rest waits. */
  for (int i = 0; i < WRITES; i++) {
    nx_promise_t *p;
    ASSERT_OK(nx_promise_new(loop, &p));
    ASSERT_OK(nx_promise_add_listener(p, count_entered, &s, NULL));
    ASSERT_OK(nx_channel_write_bytes(client, data + (size_t)i * CHUNK, CHUNK, p));
  }
  ASSERT_OK(nx_channel_flush(client));
  int entered = settled(&s.entered);
  /* The queue takes writes while it holds less than 128 KiB, each counted with its
   * overhead: it ends at or just past the bound. */
  ASSERT_GE(entered * (CHUNK + 64), PEER_QUEUE);
  ASSERT_LT((entered - 1) * CHUNK, PEER_QUEUE);
  ASSERT_LT(entered, WRITES);
  ASSERT_EQ(t_load(&s.failed), 0);
  ASSERT_OK(nx_channel_queued_bytes(client, &queued));
  ASSERT_GE(queued, (size_t)(WRITES - entered) * CHUNK); /* in the writer's buffer */
  ASSERT_EQ(s.sink.got, 0u);
  /* The waiting bytes count towards the water marks (64 KiB high): unwritable, one event. */
  ASSERT_EQ(nx_channel_is_writable(client), 0);
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (t_log_count(&writer_log, "writability") < 1) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  /* The reader starts: the queue drains, the writer's waiting writes follow in order. */
  ASSERT_OK(nx_channel_set_option(s.child, NX_OPTION_AUTO_READ, 1));
  t_wait_for(&s.sink.done, 1);
  ASSERT_EQ(s.sink.got, (size_t)WRITES * CHUNK);
  ASSERT_EQ(s.sink.mismatch, 0);
  t_wait_for(&s.entered, WRITES);
  ASSERT_EQ(t_load(&s.failed), 0);
  while (t_log_count(&writer_log, "writability") < 2) { /* writable again: one more event */
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  ASSERT_EQ(nx_channel_is_writable(client), 1);
  ASSERT_OK(nx_channel_queued_bytes(client, &queued));
  ASSERT_EQ(queued, 0u);
  t_sleep_ms(20);
  ASSERT_EQ(t_log_count(&writer_log, "writability"), 2); /* one per crossing */
  t_close_free(client);
  t_close_free(server);
  t_free_group(group);
  free(data);
  return 0;
}

/* A local server's auto-read gates accepting, as on TCP: with it off, connections wait (their
 * clients are connected) until nx_channel_read; turning it on issues that read; closing the
 * server closes the connections still waiting. */
static int count_active(nx_context_t *ctx, void *counter) {
  t_store((int *)counter, t_load((int *)counter) + 1);
  return nx_context_fire_channel_active(ctx);
}
static const nx_channel_handler_t counting_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = count_active,
};

static int init_counting(nx_channel_t *ch, void *counter) {
  return nx_pipeline_add_last(ch, "count", &counting_handler, counter, NULL, NULL);
}

/* Waits until `*value` is `want`, then 100 ms more, and checks it stayed there. */
static void stays_at(const int *value, int want) {
  t_wait_for(value, want);
  t_sleep_ms(100);
  ASSERT_EQ(t_load(value), want);
}

TEST_IMPL(pipeline_local_server_auto_read_gates_accepting) {
  nx_loop_group_t *group;
  nx_channel_t *server, *clients[5];
  int active = 0;
  ASSERT_OK(nx_loop_group_new(2, &group));
  server = t_local_server(group, "gated-accept", init_counting, &active, 0);
  for (int i = 0; i < 3; i++) /* connected, as in a listen backlog */
    clients[i] = t_local_connect(group, "gated-accept", NULL, NULL);
  stays_at(&active, 0);
  ASSERT_OK(nx_channel_read(server)); /* one batch: all three */
  stays_at(&active, 3);
  clients[3] = t_local_connect(group, "gated-accept", NULL, NULL);
  stays_at(&active, 3);
  ASSERT_OK(nx_channel_set_option(server, NX_OPTION_AUTO_READ, 1)); /* issues read() */
  stays_at(&active, 4);
  /* Off again: a new connection waits, and the server's close closes it. */
  ASSERT_OK(nx_channel_set_option(server, NX_OPTION_AUTO_READ, 0));
  t_sleep_ms(50);
  clients[4] = t_local_connect(group, "gated-accept", NULL, NULL);
  stays_at(&active, 4);
  t_close_free(server);
  t_await_closed(clients[4]);
  ASSERT_EQ(nx_channel_is_open(clients[4]), 0);
  ASSERT_EQ(t_load(&active), 4);
  for (int i = 0; i < 5; i++)
    t_close_free(clients[i]);
  t_free_group(group);
  return 0;
}
