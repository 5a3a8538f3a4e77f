/* Pipeline channels over TCP and Local through bootstraps: 1 MiB of random bytes echoed
 * byte-exact with auto-read on and off and fire-and-forget writes, each connection's events
 * in order and exactly once, writes from another thread in order, and nothing leaked (handles,
 * buffers, descriptors, threads). */
#include "pipeline-helpers.h"

enum { ECHO_BYTES = 1 << 20, ECHO_CHUNK = 16 * 1024 };

/* With auto-read off, one read per batch: ask in channel_active and after each read
 * complete (Netty's pattern), from the handler nearest the head. */
static int reader_active(nx_context_t *ctx, void *attachment) {
  (void)attachment;
  ASSERT_OK(nx_context_read(ctx));
  return nx_context_fire_channel_active(ctx);
}
static int reader_complete(nx_context_t *ctx, void *attachment) {
  (void)attachment;
  ASSERT_OK(nx_context_fire_channel_read_complete(ctx));
  return nx_context_read(ctx);
}
static const nx_channel_handler_t reader = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = reader_active,
    .channel_read_complete = reader_complete,
};

struct echo_setup {
  int auto_read;
  struct t_log *log; /* the recorder's, on the side that has one */
  struct t_sink *sink;
};

static int add_common(nx_channel_t *ch, struct echo_setup *s) {
  if (!s->auto_read)
    ASSERT_OK(nx_pipeline_add_last(ch, "reader", &reader, NULL, NULL, NULL));
  return nx_pipeline_add_last(ch, "rec", &t_recorder, s->log, NULL, NULL);
}

static int init_server_child(nx_channel_t *ch, void *arg) {
  ASSERT_OK(add_common(ch, arg));
  return nx_pipeline_add_last(ch, "echo", &t_echo, NULL, NULL, NULL);
}

static int init_client(nx_channel_t *ch, void *arg) {
  struct echo_setup *s = arg;
  ASSERT_OK(add_common(ch, s));
  return nx_pipeline_add_last(ch, "sink", &t_sink_handler, s->sink, NULL, NULL);
}

/* The events of one connection, in order, each once (reads in between). */
static void check_connection_log(struct t_log *log) {
  char text[8192];
  t_log_read(log, text, sizeof(text));
  ASSERT(strncmp(text, "added registered active", 23) == 0);
  size_t len = strlen(text);
  ASSERT(len > 29 && strcmp(text + len - 29, "inactive unregistered removed") == 0);
  ASSERT_EQ(t_log_count(log, "registered"), 1);
  ASSERT_EQ(t_log_count(log, "active"), 1);
  ASSERT_EQ(t_log_count(log, "inactive"), 1);
  ASSERT_EQ(t_log_count(log, "unregistered"), 1);
  ASSERT_EQ(t_log_count(log, "removed"), 1);
  ASSERT_GE(t_log_count(log, "read"), 1);
  ASSERT_GE(t_log_count(log, "complete"), 1);
}

/* The TCP family echo_pair uses. */
static int echo_family = AF_INET;

/* Binds an echo server (TCP on the loopback address of echo_family, or Local named `name`)
 * and connects a client to it; `*server_out`, `*client_out` are the caller's. */
static void echo_pair(nx_loop_group_t *group, const char *name, struct echo_setup *server_setup,
                      struct echo_setup *client_setup, nx_server_bootstrap_t **sb_out,
                      nx_bootstrap_t **b_out, nx_channel_t **server_out,
                      nx_channel_t **client_out) {
  nx_promise_t *bound, *connected;
  struct sockaddr_storage ss;
  struct sockaddr_un un;
  socklen_t len;
  ASSERT_OK(nx_server_bootstrap_new(sb_out));
  ASSERT_OK(nx_server_bootstrap_group(*sb_out, group, group));
  ASSERT_OK(nx_server_bootstrap_child_handler(*sb_out, init_server_child, server_setup, NULL));
  ASSERT_OK(nx_server_bootstrap_child_option(*sb_out, NX_OPTION_AUTO_READ,
                                             server_setup->auto_read));
  ASSERT_OK(nx_bootstrap_new(b_out));
  ASSERT_OK(nx_bootstrap_group(*b_out, group));
  ASSERT_OK(nx_bootstrap_handler(*b_out, init_client, client_setup, NULL));
  ASSERT_OK(nx_bootstrap_option(*b_out, NX_OPTION_AUTO_READ, client_setup->auto_read));
  if (name != NULL) {
    ASSERT_OK(nx_server_bootstrap_channel(*sb_out, NX_CHANNEL_LOCAL_SERVER));
    ASSERT_OK(nx_bootstrap_channel(*b_out, NX_CHANNEL_LOCAL));
    len = t_local_address(name, &un);
    ASSERT_OK(nx_server_bootstrap_bind(*sb_out, (struct sockaddr *)&un, len, server_out, &bound));
    t_await_ok(bound);
    ASSERT_OK(nx_bootstrap_connect(*b_out, (struct sockaddr *)&un, len, client_out, &connected));
  } else {
    len = t_loopback(echo_family, 0, &ss);
    ASSERT_OK(nx_server_bootstrap_bind(*sb_out, (struct sockaddr *)&ss, len, server_out, &bound));
    t_await_ok(bound);
    ASSERT_EQ(nx_channel_is_active(*server_out), 1);
    ASSERT_OK(nx_channel_local_address(*server_out, &ss, &len));
    ASSERT_EQ(ss.ss_family, echo_family);
    ASSERT_NE(t_port(&ss), 0);
    ASSERT_OK(nx_bootstrap_connect(*b_out, (struct sockaddr *)&ss, len, client_out, &connected));
  }
  t_await_ok(connected);
  ASSERT_EQ(nx_channel_is_active(*client_out), 1);
}

/* Ends what echo_pair made: the client, the server, the bootstraps. */
static void echo_end(nx_server_bootstrap_t *sb, nx_bootstrap_t *b, nx_channel_t *server,
                     nx_channel_t *client) {
  t_close_free(client);
  t_close_free(server);
  ASSERT_OK(nx_server_bootstrap_free(sb));
  ASSERT_OK(nx_bootstrap_free(b));
}

static void stop_group(nx_loop_group_t *group) {
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(group));
}

static int echo_mib(const char *local_name, int auto_read) {
  struct t_log server_log, client_log;
  uint8_t *data = t_random_bytes(ECHO_BYTES, 7);
  struct t_sink sink = {data, ECHO_BYTES, 0, 0, 0, 0};
  struct echo_setup server_setup = {auto_read, &server_log, NULL};
  struct echo_setup client_setup = {auto_read, &client_log, &sink};
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *client;
  size_t live_buffers = nx_debug_live_buffers();
  t_log_init(&server_log);
  t_log_init(&client_log);
  ASSERT_OK(nx_loop_group_new(2, &group));
  echo_pair(group, local_name, &server_setup, &client_setup, &sb, &b, &server, &client);
  /* Fire-and-forget writes from this thread (not the loop's): queued, in order. */
  for (size_t off = 0; off < ECHO_BYTES; off += ECHO_CHUNK)
    ASSERT_OK(nx_channel_write_bytes(client, data + off, ECHO_CHUNK, NULL));
  ASSERT_OK(nx_channel_flush(client));
  t_wait_for(&sink.done, 1);
  ASSERT_EQ(sink.got, (size_t)ECHO_BYTES);
  ASSERT_EQ(sink.mismatch, 0);
  echo_end(sb, b, server, client);
  /* The server's child saw the end of stream and closed. */
  while (t_log_count(&server_log, "removed") < 1)
    t_sleep_ms(1);
  check_connection_log(&client_log);
  check_connection_log(&server_log);
  stop_group(group);
  ASSERT_EQ(nx_debug_live_buffers(), live_buffers);
  free(data);
  return 0;
}

TEST_IMPL(pipeline_echo_tcp) { return echo_mib(NULL, 1); }
TEST_IMPL(pipeline_echo_tcp_auto_read_off) { return echo_mib(NULL, 0); }

TEST_IMPL(pipeline_echo_tcp_ipv6) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  socklen_t len = t_loopback(AF_INET6, 0, &ss);
  int usable = fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;
  if (fd >= 0)
    close(fd);
  if (!usable)
    RETURN_SKIP("no IPv6 loopback here");
  echo_family = AF_INET6;
  return echo_mib(NULL, 1);
}
TEST_IMPL(pipeline_echo_local) { return echo_mib("echo-local", 1); }
TEST_IMPL(pipeline_echo_local_auto_read_off) { return echo_mib("echo-local-off", 0); }

/* Writes from two other threads, each its own numbered stream of small records: each
 * thread's records arrive in its order. */
struct writer {
  nx_channel_t *channel;
  uint8_t id;
};

enum { RECORDS = 2000 };

static void *write_records(void *arg) {
  struct writer *w = arg;
  for (uint32_t i = 0; i < RECORDS; i++) {
    uint8_t record[5] = {w->id, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                         (uint8_t)i};
    ASSERT_OK(nx_channel_write_bytes(w->channel, record, sizeof(record), NULL));
    if (i % 64 == 0)
      ASSERT_OK(nx_channel_flush(w->channel));
  }
  ASSERT_OK(nx_channel_flush(w->channel));
  return NULL;
}

struct order_check {
  uint8_t partial[5];
  size_t have;
  uint32_t next[2];
  int bad;
  int records;
};

static int order_read(nx_context_t *ctx, nx_message_t *msg, void *arg) {
  struct order_check *c = arg;
  const uint8_t *data;
  size_t len;
  (void)ctx;
  ASSERT_OK(nx_message_bytes(msg, &data, &len));
  for (size_t i = 0; i < len; i++) {
    c->partial[c->have++] = data[i];
    if (c->have < 5)
      continue;
    c->have = 0;
    uint8_t id = c->partial[0];
    uint32_t n = ((uint32_t)c->partial[1] << 24) | ((uint32_t)c->partial[2] << 16) |
                 ((uint32_t)c->partial[3] << 8) | c->partial[4];
    if (id > 1 || n != c->next[id])
      c->bad = 1;
    else
      c->next[id]++;
    t_store(&c->records, t_load(&c->records) + 1);
  }
  return 0;
}
static const nx_channel_handler_t order_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = order_read,
};

static int init_order_client(nx_channel_t *ch, void *arg) {
  return nx_pipeline_add_last(ch, "order", &order_handler, arg, NULL, NULL);
}

TEST_IMPL(pipeline_writes_from_threads_keep_order) {
  struct t_log server_log;
  struct echo_setup server_setup = {1, &server_log, NULL};
  struct order_check check;
  nx_loop_group_t *group;
  nx_server_bootstrap_t *sb;
  nx_bootstrap_t *b;
  nx_channel_t *server, *client;
  nx_promise_t *bound, *connected;
  struct sockaddr_storage ss;
  socklen_t len;
  pthread_t threads[2];
  struct writer writers[2];
  memset(&check, 0, sizeof(check));
  t_log_init(&server_log);
  ASSERT_OK(nx_loop_group_new(2, &group));
  ASSERT_OK(nx_server_bootstrap_new(&sb));
  ASSERT_OK(nx_server_bootstrap_group(sb, group, group));
  ASSERT_OK(nx_server_bootstrap_child_handler(sb, init_server_child, &server_setup, NULL));
  len = t_loopback(AF_INET, 0, &ss);
  ASSERT_OK(nx_server_bootstrap_bind(sb, (struct sockaddr *)&ss, len, &server, &bound));
  t_await_ok(bound);
  ASSERT_OK(nx_channel_local_address(server, &ss, &len));
  ASSERT_OK(nx_bootstrap_new(&b));
  ASSERT_OK(nx_bootstrap_group(b, group));
  ASSERT_OK(nx_bootstrap_handler(b, init_order_client, &check, NULL));
  /* By host and port (resolved off the loop thread; a numeric host, so no DNS is needed). */
  ASSERT_OK(nx_bootstrap_connect_host(b, "127.0.0.1", t_port(&ss), &client, &connected));
  t_await_ok(connected);
  for (int i = 0; i < 2; i++) {
    writers[i].channel = client;
    writers[i].id = (uint8_t)i;
    ASSERT_OK(pthread_create(&threads[i], NULL, write_records, &writers[i]));
  }
  for (int i = 0; i < 2; i++)
    ASSERT_OK(pthread_join(threads[i], NULL));
  t_wait_for(&check.records, 2 * RECORDS);
  ASSERT_EQ(check.bad, 0);
  ASSERT_EQ(check.next[0], (uint32_t)RECORDS);
  ASSERT_EQ(check.next[1], (uint32_t)RECORDS);
  /* An exception nobody handles reaches the tail: reported (stderr and the counter), and the
   * channel stays open. */
  {
    uint64_t before, now;
    ASSERT_OK(nx_pipeline_unhandled_exceptions(&before));
    ASSERT_OK(nx_pipeline_fire_exception_caught(client, -EIO));
    int64_t deadline = t_now_ms() + T_LIMIT_MS;
    do {
      ASSERT(t_now_ms() < deadline);
      t_sleep_ms(1);
      ASSERT_OK(nx_pipeline_unhandled_exceptions(&now));
    } while (now == before);
    ASSERT_EQ(nx_channel_is_open(client), 1);
  }
  echo_end(sb, b, server, client);
  stop_group(group);
  return 0;
}
