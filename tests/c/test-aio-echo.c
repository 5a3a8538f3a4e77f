/*
 * test-aio-echo.c: data through AIO connections: a 1 MiB echo with scattering reads and
 * gathering writes, a peer reset with writes queued, and the write queue's cap.
 */
#include <signal.h>
#include <sys/uio.h>

#include "aio-helpers.h"

#define ECHO_TOTAL (1024 * 1024)

/* The server side: read → write_all → read, its state in the attachment. */
typedef struct {
  nx_aio_socket_t *channel;
  unsigned char a[1000], b[3000], c[20000];
  struct iovec out[3];
  int done;
  int error;
} echo_conn;

static void echo_read_done(int64_t result, void *attachment);
static void echo_failed(int error, void *attachment);
static void echo_written(int64_t result, void *attachment);

static const nx_completion_handler_t echo_read_handler = {echo_read_done, echo_failed};
static const nx_completion_handler_t echo_write_handler = {echo_written, echo_failed};

static void echo_read_more(echo_conn *conn) {
  struct iovec in[3] = {{conn->a, sizeof(conn->a)}, {conn->b, sizeof(conn->b)},
                        {conn->c, sizeof(conn->c)}};
  int rc = nx_aio_socket_read_vec(conn->channel, in, 3, 0, conn, &echo_read_handler);
  if (rc != 0) {
    conn->error = rc;
    __atomic_store_n(&conn->done, 1, __ATOMIC_SEQ_CST);
  }
}

static void echo_read_done(int64_t result, void *attachment) {
  echo_conn *conn = attachment;
  size_t left, n = 0;
  unsigned char *parts[3] = {conn->a, conn->b, conn->c};
  size_t sizes[3] = {sizeof(conn->a), sizeof(conn->b), sizeof(conn->c)};
  int rc;
  if (result == NX_EOF) {
    nx_aio_socket_shutdown_output(conn->channel);
    __atomic_store_n(&conn->done, 1, __ATOMIC_SEQ_CST);
    return;
  }
  left = (size_t)result;
  for (int i = 0; i < 3 && left > 0; i++) {
    size_t take = left < sizes[i] ? left : sizes[i];
    conn->out[n].iov_base = parts[i];
    conn->out[n].iov_len = take;
    n++;
    left -= take;
  }
  rc = nx_aio_socket_write_all_vec(conn->channel, conn->out, (int)n, conn, &echo_write_handler);
  if (rc != 0) {
    conn->error = rc;
    __atomic_store_n(&conn->done, 1, __ATOMIC_SEQ_CST);
  }
}

static void echo_written(int64_t result, void *attachment) {
  (void)result;
  echo_read_more(attachment);
}

static void echo_failed(int error, void *attachment) {
  echo_conn *conn = attachment;
  conn->error = error;
  __atomic_store_n(&conn->done, 1, __ATOMIC_SEQ_CST);
}

/* The client's reading side: reads everything into `rx` with scattering reads. */
typedef struct {
  nx_aio_socket_t *channel;
  unsigned char *rx;
  size_t got;
  int done;
  int error;
} reader;

static void reader_next(reader *r);

static void reader_done(int64_t result, void *attachment) {
  reader *r = attachment;
  if (result == NX_EOF) {
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    return;
  }
  r->got += (size_t)result;
  reader_next(r);
}

static void reader_failed(int error, void *attachment) {
  reader *r = attachment;
  r->error = error;
  __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
}

static const nx_completion_handler_t reader_handler = {reader_done, reader_failed};

static void reader_next(reader *r) {
  static unsigned char extra[16];
  size_t left = ECHO_TOTAL - r->got;
  if (left == 0) {
    /* Everything came: the next read must see the end of the stream. */
    int rc = nx_aio_socket_read(r->channel, extra, sizeof(extra), 0, r, &reader_handler);
    if (rc != 0) {
      r->error = rc;
      __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    }
    return;
  }
  size_t first = left < 777 ? left : 777;
  struct iovec in[2] = {{r->rx + r->got, first}, {r->rx + r->got + first, left - first}};
  int rc = nx_aio_socket_read_vec(r->channel, in, left == first ? 1 : 2, 0, r, &reader_handler);
  if (rc != 0) {
    r->error = rc;
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
  }
}

static void wait_flag(int *flag) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS * 4;
  while (!t_load(flag)) {
    if (t_now_ms() > deadline)
      nx_test_fail(__FILE__, __LINE__, "timed out");
    t_sleep_ms(1);
  }
}

TEST_IMPL(aio_echo_1mib_scatter_gather) {
  nx_aio_group_t *group = NULL;
  nx_aio_socket_t *client = NULL, *peer = NULL;
  unsigned char *tx = malloc(ECHO_TOTAL), *rx = malloc(ECHO_TOTAL);
  echo_conn *conn = calloc(1, sizeof(*conn));
  reader r = {0};
  t_op sent = {0};
  struct iovec out[3];

  ASSERT_NOT_NULL(tx);
  ASSERT_NOT_NULL(rx);
  ASSERT_NOT_NULL(conn);
  ASSERT_OK(nx_aio_group_new(2, &group));
  t_random_bytes(tx, ECHO_TOTAL, 2024);
  t_aio_pair(group, &client, &peer);
  conn->channel = peer;
  echo_read_more(conn);
  r.channel = client;
  r.rx = rx;
  reader_next(&r);

  /* One queued write of three regions (1 + 500000 + the rest bytes). */
  out[0].iov_base = tx;
  out[0].iov_len = 1;
  out[1].iov_base = tx + 1;
  out[1].iov_len = 500000;
  out[2].iov_base = tx + 500001;
  out[2].iov_len = ECHO_TOTAL - 500001;
  ASSERT_OK(nx_aio_socket_write_all_vec(client, out, 3, &sent, &t_handler));
  ASSERT_EQ(t_op_result(&sent), ECHO_TOTAL);
  ASSERT_OK(nx_aio_socket_shutdown_output(client));
  wait_flag(&r.done);
  ASSERT_EQ(r.error, 0);
  ASSERT_EQ(r.got, ECHO_TOTAL);
  ASSERT(memcmp(tx, rx, ECHO_TOTAL) == 0);
  wait_flag(&conn->done);
  ASSERT_EQ(conn->error, 0);

  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  free(conn);
  free(tx);
  free(rx);
  return 0;
}

TEST_IMPL(aio_reset_with_writes_queued) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  static unsigned char chunk[64 * 1024];
  static t_op ops[200];
  t_op later = {0};
  size_t queued = 0;
  int n = 0;

  signal(SIGPIPE, SIG_DFL);
  memset(ops, 0, sizeof(ops));
  t_aio_pair(group, &client, &peer);
  /* Queue until bytes wait in the queue (the peer never reads). */
  for (n = 0; n < 200; n++) {
    ASSERT_OK(nx_aio_socket_write_all(client, chunk, sizeof(chunk), &ops[n], &t_handler));
    ASSERT_OK(nx_aio_socket_queued_bytes(client, &queued));
    if (queued > 4 * sizeof(chunk) && n >= 8)
      break;
    t_sleep_ms(1);
  }
  ASSERT_GT(queued, 0);
  n = n < 200 ? n + 1 : n;
  ASSERT_OK(nx_aio_socket_set_option(peer, NX_SO_LINGER, 0));
  ASSERT_OK(nx_aio_socket_free(peer)); /* a reset */
  {
    int64_t deadline = t_now_ms() + T_LIMIT_MS;
    int failed = 0;
    while (t_now_ms() < deadline) {
      failed = 0;
      for (int i = 0; i < n; i++)
        failed += t_load(&ops[i].failed);
      if (t_op_reports(&ops[n - 1]) == 1)
        break;
      t_sleep_ms(1);
    }
    ASSERT_GT(failed, 0);
  }
  t_sleep_ms(20);
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(t_op_reports(&ops[i]), 1);
    if (ops[i].failed)
      ASSERT_LT(ops[i].error, 0);
  }
  ASSERT_LT(nx_aio_socket_write_all(client, chunk, 1, &later, &t_handler), 0);
  t_sleep_ms(10);
  ASSERT_EQ(t_op_reports(&later), 0);
  ASSERT_OK(nx_aio_socket_free(client));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_write_queue_cap) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  static unsigned char chunk[16 * 1024];
  static t_op ops[4096];
  size_t queued = 0;
  int n, rc = 0;

  memset(ops, 0, sizeof(ops));
  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_set_write_queue_cap(client, 64 * 1024, NX_QUEUE_FAIL_NEW_CALL));
  for (n = 0; n < 4096; n++) {
    rc = nx_aio_socket_write_all(client, chunk, sizeof(chunk), &ops[n], &t_handler);
    if (rc != 0)
      break;
    ASSERT_OK(nx_aio_socket_queued_bytes(client, &queued));
    ASSERT_LE(queued, 64 * 1024);
  }
  ASSERT_EQ(rc, NX_EQUEUEFULL);
  ASSERT_EQ(nx_aio_socket_is_open(client), 1);
  t_sleep_ms(10);
  ASSERT_EQ(t_op_reports(&ops[n]), 0);

  /* The other policy closes the channel: what is queued fails once. */
  ASSERT_OK(nx_aio_socket_set_write_queue_cap(client, 64 * 1024, NX_QUEUE_CLOSE));
  for (; n < 4095; n++) {
    rc = nx_aio_socket_write_all(client, chunk, sizeof(chunk), &ops[n], &t_handler);
    if (rc != 0)
      break;
  }
  ASSERT_EQ(rc, NX_ECLOSED);
  ASSERT_EQ(nx_aio_socket_is_open(client), 0);
  for (int i = 0; i < n; i++)
    t_op_wait(&ops[i]);
  t_sleep_ms(10);
  for (int i = 0; i < n; i++)
    ASSERT_EQ(t_op_reports(&ops[i]), 1);
  ASSERT_EQ(t_op_reports(&ops[n]), 0);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

/* The budget test's server side: read -> write -> read, its state in the attachment. */
typedef struct {
  nx_aio_socket_t *channel;
  unsigned char buf[256];
  size_t off, len;
  int error;
} budget_conn;

static void budget_read_done(int64_t result, void *attachment);
static void budget_written(int64_t result, void *attachment);
static void budget_failed(int error, void *attachment);
static const nx_completion_handler_t budget_read_handler = {budget_read_done, budget_failed};
static const nx_completion_handler_t budget_write_handler = {budget_written, budget_failed};

static void budget_read(budget_conn *conn) {
  int rc = nx_aio_socket_read(conn->channel, conn->buf, sizeof(conn->buf), 0, conn,
                              &budget_read_handler);
  if (rc != 0)
    t_store(&conn->error, rc);
}

static void budget_write(budget_conn *conn) {
  int rc = nx_aio_socket_write(conn->channel, conn->buf + conn->off, conn->len - conn->off, 0,
                               conn, &budget_write_handler);
  if (rc != 0)
    t_store(&conn->error, rc);
}

static void budget_read_done(int64_t result, void *attachment) {
  budget_conn *conn = attachment;
  if (result == NX_EOF)
    return;
  conn->off = 0;
  conn->len = (size_t)result;
  budget_write(conn);
}

static void budget_written(int64_t result, void *attachment) {
  budget_conn *conn = attachment;
  conn->off += (size_t)result;
  if (conn->off < conn->len)
    budget_write(conn);
  else
    budget_read(conn);
}

static void budget_failed(int error, void *attachment) {
  budget_conn *conn = attachment;
  if (error != NX_EASYNCCLOSE)
    t_store(&conn->error, error);
}

static uint64_t loop_counter(nx_loop_t *loop, int which) {
  uint64_t value = 0;
  ASSERT_OK(nx_loop_counter(loop, which, &value));
  return value;
}

/* One 64-byte request through a blocking client socket, and its echo back. */
static void budget_exchange(int fd) {
  unsigned char out[64], in[64];
  size_t got = 0;
  for (size_t i = 0; i < sizeof(out); i++)
    out[i] = (unsigned char)i;
  ASSERT_EQ(send(fd, out, sizeof(out), MSG_NOSIGNAL), (ssize_t)sizeof(out));
  while (got < sizeof(in)) {
    ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);
    ASSERT_GT(n, 0);
    got += (size_t)n;
  }
  ASSERT_EQ(memcmp(in, out, sizeof(in)), 0);
}

/* A steady echo costs per request one recv, one send and about one epoll_wait: no epoll_ctl,
 * no spinning, and no wake-up through the eventfd (the backend's counters). */
TEST_IMPL(aio_echo_syscall_budget) {
  enum { WARMUP = 20, N = 500 };
  nx_loop_group_t *loops = NULL;
  nx_loop_t *loop = NULL;
  nx_aio_group_t *group = NULL;
  nx_aio_server_socket_t *server;
  nx_promise_t *accepted = NULL;
  struct sockaddr_storage addr;
  socklen_t len;
  struct timeval limit = {T_LIMIT_MS / 1000, 0};
  static budget_conn conn;
  uint64_t waits, ctls, events, empty;
  int fd;

  memset(&conn, 0, sizeof(conn));
  ASSERT_OK(nx_loop_group_new(1, &loops));
  ASSERT_OK(nx_loop_group_next(loops, &loop));
  ASSERT_OK(nx_aio_group_with_loop_group(loops, &group));
  server = t_aio_listen(group, 16, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepted));
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)));
  ASSERT_OK(connect(fd, (struct sockaddr *)&addr, len));
  ASSERT_OK(nx_promise_wait(accepted, T_LIMIT_MS));
  ASSERT_OK(nx_aio_server_socket_accept_take(accepted, &conn.channel));
  ASSERT_OK(nx_promise_free(accepted));
  ASSERT_OK(nx_aio_server_socket_free(server));
  budget_read(&conn);

  for (int i = 0; i < WARMUP; i++)
    budget_exchange(fd);
  waits = loop_counter(loop, NX_LOOP_COUNTER_EPOLL_WAITS);
  ctls = loop_counter(loop, NX_LOOP_COUNTER_EPOLL_CTLS);
  events = loop_counter(loop, NX_LOOP_COUNTER_BACKEND_EVENTS);
  empty = loop_counter(loop, NX_LOOP_COUNTER_EMPTY_WAITS);
  for (int i = 0; i < N; i++)
    budget_exchange(fd);
  ASSERT_EQ(loop_counter(loop, NX_LOOP_COUNTER_EPOLL_CTLS), ctls);
  waits = loop_counter(loop, NX_LOOP_COUNTER_EPOLL_WAITS) - waits;
  events = loop_counter(loop, NX_LOOP_COUNTER_BACKEND_EVENTS) - events;
  /* Each request waits for its own readable edge: the counters do count. */
  ASSERT_GE(waits, N / 2);
  ASSERT_LE(waits, N + N / 10);
  ASSERT_LE(loop_counter(loop, NX_LOOP_COUNTER_EMPTY_WAITS) - empty, N / 10);
  ASSERT_GE(events, N / 2);
  ASSERT_LE(events, N + N / 10);
  ASSERT_EQ(t_load(&conn.error), 0);

  ASSERT_OK(close(fd));
  ASSERT_OK(nx_aio_socket_close(conn.channel));
  ASSERT_OK(nx_aio_socket_free(conn.channel));
  t_aio_group_free(group);
  ASSERT_OK(nx_loop_group_shutdown_gracefully(loops, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(loops, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_free(loops));
  return 0;
}
