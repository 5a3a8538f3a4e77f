/*
 * test-aio-socket.c: AIO connections and listeners: accept/connect/read/write with handlers
 * and futures, refused and timed-out connects, errors at the call, timeouts and cancels.
 */
#include <sys/uio.h>

#include "aio-helpers.h"

/* Accept and connect with handlers, then one write and one read with handlers. */
static nx_aio_socket_t *accepted_channel;
static int accepted_count;
static int accept_failed;

static void on_accepted(nx_aio_socket_t *channel, void *attachment) {
  (void)attachment;
  accepted_channel = channel;
  __atomic_add_fetch(&accepted_count, 1, __ATOMIC_SEQ_CST);
}

static void on_accept_failed(int error, void *attachment) {
  (void)attachment;
  __atomic_store_n(&accept_failed, error, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&accepted_count, 1, __ATOMIC_SEQ_CST);
}

static const nx_accept_handler_t accept_handler = {on_accepted, on_accept_failed};

TEST_IMPL(aio_handlers_accept_connect_read_write) {
  nx_aio_group_t *group = t_aio_group();
  struct sockaddr_storage addr, local, remote;
  socklen_t len, local_len, remote_len;
  nx_aio_server_socket_t *server = t_aio_listen(group, 16, &addr, &len);
  nx_aio_socket_t *client = NULL;
  t_op connect_op = {0}, write_op = {0}, read_op = {0};
  char in[16] = {0};
  int64_t deadline = t_now_ms() + T_LIMIT_MS;

  accepted_count = 0;
  accepted_channel = NULL;
  ASSERT_OK(nx_aio_server_socket_accept(server, NULL, &accept_handler));
  ASSERT_OK(nx_aio_socket_open(group, &client));
  ASSERT_OK(nx_aio_socket_connect(client, (struct sockaddr *)&addr, len, 0, &connect_op,
                                  &t_handler));
  ASSERT_EQ(t_op_result(&connect_op), 0);
  while (t_load(&accepted_count) == 0 && t_now_ms() < deadline)
    t_sleep_ms(1);
  ASSERT_EQ(t_load(&accepted_count), 1);
  ASSERT_NOT_NULL(accepted_channel);

  ASSERT_OK(nx_aio_socket_local_address(client, &local, &local_len));
  ASSERT_OK(nx_aio_socket_remote_address(accepted_channel, &remote, &remote_len));
  ASSERT_EQ(t_port(&local), t_port(&remote));

  ASSERT_OK(nx_aio_socket_write(client, "hello", 5, 0, &write_op, &t_handler));
  ASSERT_EQ(t_op_result(&write_op), 5);
  ASSERT_OK(nx_aio_socket_read(accepted_channel, in, sizeof(in), 0, &read_op, &t_handler));
  ASSERT_EQ(t_op_result(&read_op), 5);
  ASSERT(memcmp(in, "hello", 5) == 0);

  /* End of stream: the client shuts its output down. */
  memset(&read_op, 0, sizeof(read_op));
  ASSERT_OK(nx_aio_socket_shutdown_output(client));
  ASSERT_OK(nx_aio_socket_read(accepted_channel, in, sizeof(in), 0, &read_op, &t_handler));
  ASSERT_EQ(t_op_result(&read_op), NX_EOF);

  /* A zero-length read completes with 0. */
  memset(&read_op, 0, sizeof(read_op));
  ASSERT_OK(nx_aio_socket_read(client, NULL, 0, 0, &read_op, &t_handler));
  ASSERT_EQ(t_op_result(&read_op), 0);

  ASSERT_OK(nx_aio_socket_free(accepted_channel));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_server_socket_free(server));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_futures_accept_connect_read_write) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL, *again = NULL;
  nx_promise_t *written = NULL, *read = NULL, *wrong = NULL;
  struct sockaddr_storage addr;
  socklen_t len;
  nx_aio_server_socket_t *server;
  nx_promise_t *accepted = NULL, *connected = NULL;
  char in[8] = {0};
  int64_t result = 0;

  server = t_aio_listen(group, 16, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepted));
  ASSERT_OK(nx_aio_socket_open(group, &client));
  ASSERT_OK(nx_aio_socket_connect_future(client, (struct sockaddr *)&addr, len, -1, &connected));
  ASSERT_EQ(t_future_result(connected), 0);
  ASSERT_OK(nx_promise_wait(accepted, T_LIMIT_MS));
  /* An accept's future has no count; a count's future has no channel. */
  ASSERT_EQ(nx_aio_result(accepted, &result), NX_EINVAL);
  ASSERT_EQ(nx_aio_server_socket_accept_take(connected, &again), NX_EINVAL);
  ASSERT_OK(nx_aio_server_socket_accept_take(accepted, &peer));
  ASSERT_EQ(nx_aio_server_socket_accept_take(accepted, &again), NX_EALREADYDONE);
  ASSERT_NULL(again);

  ASSERT_OK(nx_aio_socket_write_future(client, "abc", 3, 0, &written));
  ASSERT_EQ(t_future_result(written), 3);
  ASSERT_OK(nx_aio_socket_read_future(peer, in, sizeof(in), 1000, &read));
  ASSERT_EQ(t_future_result(read), 3);
  ASSERT(memcmp(in, "abc", 3) == 0);
  ASSERT_OK(nx_promise_free(written));
  ASSERT_OK(nx_promise_free(read));

  /* Scattering and gathering with futures. */
  {
    char x[2] = {0}, y[4] = {0};
    struct iovec out[2] = {{"12", 2}, {"345", 3}};
    struct iovec in2[2] = {{x, sizeof(x)}, {y, sizeof(y)}};
    ASSERT_OK(nx_aio_socket_write_vec_future(client, out, 2, 0, &written));
    ASSERT_EQ(t_future_result(written), 5);
    ASSERT_OK(nx_promise_free(written));
    ASSERT_OK(nx_aio_socket_read_vec_future(peer, in2, 2, 1000, &read));
    ASSERT_EQ(t_future_result(read), 5);
    ASSERT_OK(nx_promise_free(read));
    ASSERT(memcmp(x, "12", 2) == 0);
    ASSERT(memcmp(y, "345", 3) == 0);
  }

  ASSERT_OK(nx_aio_socket_write_all_future(client, "defg", 4, &written));
  ASSERT_EQ(t_future_result(written), 4);
  ASSERT_OK(nx_aio_socket_read_future(peer, in, sizeof(in), 0, &read));
  ASSERT_EQ(t_future_result(read), 4);
  ASSERT_OK(nx_promise_free(written));
  ASSERT_OK(nx_promise_free(read));

  /* A pending future's result is not there yet. */
  ASSERT_OK(nx_aio_socket_read_future(peer, in, sizeof(in), 0, &wrong));
  ASSERT_EQ(nx_aio_result(wrong, &result), NX_ETIMEDOUT);
  ASSERT_OK(nx_aio_socket_close(peer));
  ASSERT_EQ(t_future_result(wrong), NX_EASYNCCLOSE);
  ASSERT_OK(nx_promise_free(wrong));

  ASSERT_OK(nx_promise_free(accepted));
  ASSERT_OK(nx_promise_free(connected));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_server_socket_free(server));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_connect_refused) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_server_socket_t *server;
  nx_aio_socket_t *client = NULL;
  struct sockaddr_storage addr;
  socklen_t len;
  t_op op = {0};

  /* A port nobody listens on: bind a listener, note its port, close it. */
  server = t_aio_listen(group, 1, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_free(server));
  ASSERT_OK(nx_aio_socket_open(group, &client));
  ASSERT_OK(nx_aio_socket_connect(client, (struct sockaddr *)&addr, len, T_LIMIT_MS, &op,
                                  &t_handler));
  ASSERT_EQ(t_op_error(&op), -ECONNREFUSED);
  /* A failed connect closes the channel, as in Java. */
  ASSERT_EQ(nx_aio_socket_is_open(client), 0);
  t_sleep_ms(20);
  ASSERT_EQ(t_op_reports(&op), 1);
  ASSERT_OK(nx_aio_socket_free(client));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_connect_timeout) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_server_socket_t *server;
  nx_aio_socket_t *fillers[64];
  nx_promise_t *futures[64];
  nx_aio_socket_t *client = NULL;
  struct sockaddr_storage addr;
  socklen_t len;
  t_op op = {0};
  int n = 0;
  int full = 0;

  /* A listener that never accepts, with a backlog of 1: connects past it stay pending, unless
   * this kernel completes them anyway. */
  server = t_aio_listen(group, 1, &addr, &len);
  for (n = 0; n < 64 && !full; n++) {
    ASSERT_OK(nx_aio_socket_open(group, &fillers[n]));
    ASSERT_OK(nx_aio_socket_connect_future(fillers[n], (struct sockaddr *)&addr, len, 0,
                                           &futures[n]));
    if (nx_promise_wait(futures[n], t_under_valgrind() ? 2000 : 500) == NX_ETIMEDOUT)
      full = 1;
  }
  if (full) {
    ASSERT_OK(nx_aio_socket_open(group, &client));
    ASSERT_OK(nx_aio_socket_connect(client, (struct sockaddr *)&addr, len, 100, &op,
                                    &t_handler));
    ASSERT_EQ(t_op_error(&op), NX_ETIMEDOUT);
    t_sleep_ms(50);
    ASSERT_EQ(t_op_reports(&op), 1);
    ASSERT_EQ(nx_aio_socket_is_open(client), 0);
    ASSERT_OK(nx_aio_socket_free(client));

    /* Close with a connect pending: it fails once, with NX_EASYNCCLOSE. */
    memset(&op, 0, sizeof(op));
    ASSERT_OK(nx_aio_socket_open(group, &client));
    ASSERT_OK(nx_aio_socket_connect(client, (struct sockaddr *)&addr, len, 0, &op, &t_handler));
    t_sleep_ms(20);
    ASSERT_EQ(t_op_reports(&op), 0);
    ASSERT_OK(nx_aio_socket_close(client));
    ASSERT_EQ(t_op_error(&op), NX_EASYNCCLOSE);
    t_sleep_ms(20);
    ASSERT_EQ(t_op_reports(&op), 1);
    ASSERT_OK(nx_aio_socket_free(client));
  }
  for (int i = 0; i < n; i++) {
    ASSERT_OK(nx_aio_socket_free(fillers[i]));
    ASSERT_OK(nx_promise_wait(futures[i], T_LIMIT_MS));
    ASSERT_OK(nx_promise_free(futures[i]));
  }
  ASSERT_OK(nx_aio_server_socket_free(server));
  t_aio_group_free(group);
  if (!full)
    RETURN_SKIP("the kernel completed every connect past the backlog");
  return 0;
}

/* Fills the client's path to a peer that never reads, with raw writes, until one stays
 * pending: returns that write's record. */
static void fill_until_pending(nx_aio_socket_t *client, t_op *pending, unsigned char *chunk,
                               size_t size) {
  for (int i = 0; i < 10000; i++) {
    memset(pending, 0, sizeof(*pending));
    ASSERT_OK(nx_aio_socket_write(client, chunk, size, 0, pending, &t_handler));
    {
      /* A write not done by then is pending (the peer's buffers are full); only the last one
       * waits this long. Valgrind's loop thread needs longer to finish one that is not. */
      int64_t until = t_now_ms() + (t_under_valgrind() ? 2000 : 500);
      while (t_op_reports(pending) == 0 && t_now_ms() < until)
        t_sleep_ms(1);
    }
    if (t_op_reports(pending) == 0)
      return;
    ASSERT_EQ(t_load(&pending->completed), 1);
  }
  nx_test_fail(__FILE__, __LINE__, "the send buffer never filled");
}

TEST_IMPL(aio_pending_errors_at_the_call) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  nx_aio_server_socket_t *server;
  struct sockaddr_storage addr;
  socklen_t len;
  t_op read1 = {0}, read2 = {0}, write1 = {0}, write2 = {0}, accept2 = {0};
  static unsigned char chunk[256 * 1024];
  char in[8];
  nx_promise_t *accepting = NULL;

  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_read(client, in, sizeof(in), 0, &read1, &t_handler));
  ASSERT_EQ(nx_aio_socket_read(client, in, sizeof(in), 0, &read2, &t_handler),
            NX_EREADPENDING);
  fill_until_pending(client, &write1, chunk, sizeof(chunk));
  ASSERT_EQ(nx_aio_socket_write(client, chunk, 1, 0, &write2, &t_handler), NX_EWRITEPENDING);
  ASSERT_EQ(nx_aio_socket_write_all(client, chunk, 1, &write2, &t_handler), 0);
  /* A raw write fails while writes are queued too. */
  {
    t_op write3 = {0};
    ASSERT_EQ(nx_aio_socket_write(client, chunk, 1, 0, &write3, &t_handler), NX_EWRITEPENDING);
    t_sleep_ms(20);
    ASSERT_EQ(t_op_reports(&write3), 0);
  }

  server = t_aio_listen(group, 4, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepting));
  ASSERT_EQ(nx_aio_server_socket_accept(server, &accept2, &accept_handler),
            NX_EACCEPTPENDING);

  /* NULL handlers and functions are refused, and call nothing. */
  {
    nx_completion_handler_t half = {t_op_completed, NULL};
    ASSERT_EQ(nx_aio_socket_read(peer, in, sizeof(in), 0, &read2, NULL), NX_EINVAL);
    ASSERT_EQ(nx_aio_socket_read(peer, in, sizeof(in), 0, &read2, &half), NX_EINVAL);
    ASSERT_EQ(nx_aio_socket_read(peer, NULL, 4, 0, &read2, &t_handler), NX_EINVAL);
    ASSERT_EQ(nx_aio_socket_read_vec(peer, NULL, 1, 0, &read2, &t_handler), NX_EINVAL);
  }

  /* Close fails each pending operation once, with NX_EASYNCCLOSE. */
  ASSERT_OK(nx_aio_socket_close(client));
  ASSERT_OK(nx_aio_socket_close(client));
  ASSERT_EQ(t_op_error(&read1), NX_EASYNCCLOSE);
  ASSERT_EQ(t_op_error(&write1), NX_EASYNCCLOSE);
  ASSERT_EQ(t_op_error(&write2), NX_EASYNCCLOSE);
  ASSERT_OK(nx_aio_server_socket_close(server));
  ASSERT_EQ(t_future_result(accepting), NX_EASYNCCLOSE);
  t_sleep_ms(20);
  ASSERT_EQ(t_op_reports(&read1), 1);
  ASSERT_EQ(t_op_reports(&write1), 1);
  ASSERT_EQ(t_op_reports(&write2), 1);
  ASSERT_EQ(t_op_reports(&read2), 0);
  ASSERT_EQ(t_op_reports(&accept2), 0);
  ASSERT_EQ(nx_aio_socket_read(client, in, sizeof(in), 0, &read2, &t_handler), NX_ECLOSED);

  ASSERT_OK(nx_promise_free(accepting));
  ASSERT_OK(nx_aio_server_socket_free(server));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_EQ(nx_aio_socket_free(peer), NX_EBADHANDLE);
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_read_timeout) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  t_op read1 = {0}, read2 = {0}, write = {0};
  char in[8];

  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_read(client, in, sizeof(in), 50, &read1, &t_handler));
  ASSERT_EQ(t_op_error(&read1), NX_ETIMEDOUT);
  ASSERT_EQ(nx_aio_socket_read(client, in, sizeof(in), 0, &read2, &t_handler), NX_EDISABLED);
  /* Bytes arriving later complete nothing. */
  ASSERT_OK(nx_aio_socket_write(peer, "x", 1, 0, &write, &t_handler));
  ASSERT_EQ(t_op_result(&write), 1);
  t_sleep_ms(50);
  ASSERT_EQ(t_op_reports(&read1), 1);
  ASSERT_EQ(t_op_reports(&read2), 0);
  /* Writes are untouched. */
  memset(&write, 0, sizeof(write));
  ASSERT_OK(nx_aio_socket_write(client, "y", 1, 0, &write, &t_handler));
  ASSERT_EQ(t_op_result(&write), 1);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_write_timeout) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  t_op pending = {0}, later = {0}, timed = {0};
  static unsigned char chunk[256 * 1024];

  t_aio_pair(group, &client, &peer);
  fill_until_pending(client, &pending, chunk, sizeof(chunk));
  /* The pending write has no timeout; close it out and time the next one. */
  ASSERT_OK(nx_aio_socket_shutdown_input(peer));
  ASSERT_OK(nx_aio_socket_close(client));
  ASSERT_EQ(t_op_error(&pending), NX_EASYNCCLOSE);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));

  t_aio_pair(group, &client, &peer);
  for (int i = 0; i < 10000; i++) {
    memset(&timed, 0, sizeof(timed));
    ASSERT_OK(nx_aio_socket_write(client, chunk, sizeof(chunk), 50, &timed, &t_handler));
    t_op_wait(&timed);
    if (t_load(&timed.failed))
      break;
  }
  ASSERT_EQ(t_op_error(&timed), NX_ETIMEDOUT);
  ASSERT_EQ(nx_aio_socket_write(client, chunk, 1, 0, &later, &t_handler), NX_EDISABLED);
  ASSERT_EQ(nx_aio_socket_write_all(client, chunk, 1, &later, &t_handler), NX_EDISABLED);
  t_sleep_ms(50);
  ASSERT_EQ(t_op_reports(&timed), 1);
  ASSERT_EQ(t_op_reports(&later), 0);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_future_cancel) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  nx_promise_t *read = NULL;
  t_op again = {0};
  char in[8];

  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_read_future(client, in, sizeof(in), 0, &read));
  ASSERT_EQ(nx_promise_cancel(read), 1);
  ASSERT_EQ(nx_promise_is_cancelled(read), 1);
  ASSERT_EQ(t_future_result(read), NX_ECANCELLED);
  ASSERT_EQ(nx_aio_socket_read(client, in, sizeof(in), 0, &again, &t_handler), NX_EDISABLED);
  ASSERT_OK(nx_promise_free(read));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_socket_options) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  int64_t value = -1;

  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_set_option(client, NX_TCP_NODELAY, 1));
  ASSERT_OK(nx_aio_socket_get_option(client, NX_TCP_NODELAY, &value));
  ASSERT_EQ(value, 1);
  ASSERT_EQ(nx_aio_socket_set_option(client, 999, 1), NX_EINVAL);
  ASSERT_EQ(nx_aio_socket_set_write_queue_cap(client, 1024, 99), NX_EINVAL);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_EQ(nx_aio_socket_set_option(client, NX_TCP_NODELAY, 1), NX_EBADHANDLE);
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_accept_future_untaken) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_server_socket_t *server;
  nx_aio_socket_t *client = NULL;
  nx_promise_t *accepted = NULL, *connected = NULL, *pending = NULL, *copy = NULL;
  struct sockaddr_storage addr;
  socklen_t len;
  t_op read = {0};
  char in[4];

  server = t_aio_listen(group, 16, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepted));
  ASSERT_OK(nx_promise_retain(accepted, &copy));
  ASSERT_OK(nx_aio_socket_open(group, &client));
  ASSERT_OK(nx_aio_socket_connect_future(client, (struct sockaddr *)&addr, len, 0, &connected));
  ASSERT_EQ(t_future_result(connected), 0);
  ASSERT_OK(nx_promise_wait(accepted, T_LIMIT_MS));
  /* Freeing one handle keeps the connection for the other; the last one closes it. */
  ASSERT_OK(nx_promise_free(accepted));
  ASSERT_OK(nx_aio_socket_read(client, in, sizeof(in), 0, &read, &t_handler));
  t_sleep_ms(20);
  ASSERT_EQ(t_op_reports(&read), 0);
  ASSERT_OK(nx_promise_free(copy));
  ASSERT_EQ(t_op_result(&read), NX_EOF);
  /* Freeing a pending accept's future cancels the accept: the next accept is allowed. */
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &pending));
  ASSERT_OK(nx_promise_free(pending));
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &pending));
  ASSERT_OK(nx_promise_free(pending));
  ASSERT_OK(nx_promise_free(connected));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_server_socket_free(server));
  t_aio_group_free(group);
  return 0;
}

/* Calls from a handler on the channel's own loop thread check the handle with loads alone. */
typedef struct {
  nx_aio_socket_t *channel;
  uint64_t reader_entries;
  int start_rc;
  t_op next;
  int ran;
} fast;

static void fast_completed(int64_t result, void *attachment) {
  fast *f = attachment;
  uint64_t before = nx_debug_reader_entries();
  (void)result;
  f->start_rc = nx_aio_socket_write(f->channel, "b", 1, 0, &f->next, &t_handler);
  (void)nx_aio_socket_is_open(f->channel);
  f->reader_entries = nx_debug_reader_entries() - before;
  __atomic_store_n(&f->ran, 1, __ATOMIC_SEQ_CST);
}

static void fast_failed(int error, void *attachment) {
  fast *f = attachment;
  f->start_rc = error;
  __atomic_store_n(&f->ran, 2, __ATOMIC_SEQ_CST);
}

static const nx_completion_handler_t fast_handler = {fast_completed, fast_failed};

TEST_IMPL(aio_handler_calls_take_the_fast_path) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  fast f;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;

  memset(&f, 0, sizeof(f));
  t_aio_pair(group, &client, &peer);
  f.channel = client;
  ASSERT_OK(nx_aio_socket_write(client, "a", 1, 0, &f, &fast_handler));
  while (!t_load(&f.ran) && t_now_ms() < deadline)
    t_sleep_ms(1);
  ASSERT_EQ(t_load(&f.ran), 1);
  ASSERT_EQ(f.start_rc, 0);
  ASSERT_EQ(f.reader_entries, 0);
  ASSERT_EQ(t_op_result(&f.next), 1);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  return 0;
}

/* One family: a listener and a connection of `family` talk over its loopback address.
 * Returns 0, or 1 if the host has no such family (no IPv6). */
static int open_family_pair(nx_aio_group_t *group, int family) {
  nx_aio_server_socket_t *server = NULL;
  nx_aio_socket_t *client = NULL, *peer = NULL;
  nx_promise_t *accepted = NULL, *connected = NULL;
  struct sockaddr_storage addr, local;
  socklen_t len = t_loopback(family, 0, &addr), local_len = sizeof(local);
  int rc = nx_aio_server_socket_open_family(group, family, &server);
  if (rc == -EAFNOSUPPORT)
    return 1;
  ASSERT_OK(rc);
  rc = nx_aio_server_socket_bind(server, (struct sockaddr *)&addr, len, 16);
  if (rc == -EADDRNOTAVAIL) { /* no ::1 */
    ASSERT_OK(nx_aio_server_socket_free(server));
    return 1;
  }
  ASSERT_OK(rc);
  ASSERT_OK(nx_aio_server_socket_local_address(server, &addr, &len));
  ASSERT_EQ(addr.ss_family, family);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepted));
  ASSERT_OK(nx_aio_socket_open_family(group, family, &client));
  ASSERT_OK(nx_aio_socket_connect_future(client, (struct sockaddr *)&addr, len, T_LIMIT_MS,
                                         &connected));
  ASSERT_EQ(t_future_result(connected), 0);
  ASSERT_OK(nx_aio_socket_local_address(client, &local, &local_len));
  ASSERT_EQ(local.ss_family, family);
  ASSERT_OK(nx_promise_wait(accepted, T_LIMIT_MS));
  ASSERT_OK(nx_aio_server_socket_accept_take(accepted, &peer));
  ASSERT_OK(nx_promise_free(accepted));
  ASSERT_OK(nx_promise_free(connected));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_OK(nx_aio_server_socket_free(server));
  return 0;
}

TEST_IMPL(aio_open_family) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *channel = NULL;
  nx_aio_server_socket_t *server = NULL;

  ASSERT_EQ(open_family_pair(group, AF_INET), 0);
  (void)open_family_pair(group, AF_INET6); /* skipped where the host has no IPv6 */
  ASSERT_EQ(nx_aio_socket_open_family(group, AF_UNIX, &channel), NX_EINVAL);
  ASSERT_EQ(nx_aio_server_socket_open_family(group, AF_UNIX, &server), NX_EINVAL);
  ASSERT_EQ(nx_aio_socket_open_family(group, AF_INET, NULL), NX_EINVAL);
  ASSERT_EQ(nx_aio_server_socket_open_family(NULL, AF_INET, &server), NX_EINVAL);
  ASSERT_NULL(channel);
  ASSERT_NULL(server);
  t_aio_group_free(group);
  return 0;
}
