/*
 * test-aio-group.c: AIO channel groups: shutdown, shutdown_now with operations pending,
 * close and shutdown from inside a handler, waits on a group thread, borrowed loops.
 */
#include "aio-helpers.h"

/* What a handler that closes its channel and shuts its group down saw. */
typedef struct {
  nx_aio_group_t *group;
  nx_aio_socket_t *channel;
  int close_rc;
  int shutdown_rc;
  int await_rc;
  int free_rc;
  int shut_after_free;
  int ran;
} inside;

static void inside_completed(int64_t result, void *attachment) {
  inside *in = attachment;
  (void)result;
  in->close_rc = nx_aio_socket_close(in->channel);
  in->await_rc = nx_aio_group_await_termination(in->group, 1000);
  in->free_rc = nx_aio_group_free(in->group);
  in->shut_after_free = nx_aio_group_is_shutdown(in->group);
  in->shutdown_rc = nx_aio_group_shutdown_now(in->group);
  __atomic_store_n(&in->ran, 1, __ATOMIC_SEQ_CST);
}

static void inside_failed(int error, void *attachment) {
  inside *in = attachment;
  (void)error;
  __atomic_store_n(&in->ran, 2, __ATOMIC_SEQ_CST);
}

static const nx_completion_handler_t inside_handler = {inside_completed, inside_failed};

TEST_IMPL(aio_group_close_and_shutdown_in_handler) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;
  t_op peer_read = {0};
  inside in = {0};
  char buf[4], other[4];
  int64_t deadline = t_now_ms() + T_LIMIT_MS;

  t_aio_pair(group, &client, &peer);
  in.group = group;
  in.channel = client;
  ASSERT_OK(nx_aio_socket_read(peer, other, sizeof(other), 0, &peer_read, &t_handler));
  ASSERT_OK(nx_aio_socket_write(client, "ping", 4, 0, &in, &inside_handler));
  (void)buf;
  while (!t_load(&in.ran) && t_now_ms() < deadline)
    t_sleep_ms(1);
  ASSERT_EQ(t_load(&in.ran), 1);
  ASSERT_EQ(in.close_rc, 0);
  ASSERT_EQ(in.await_rc, NX_EDEADLK);
  ASSERT_EQ(in.free_rc, NX_EDEADLK);
  ASSERT_EQ(in.shut_after_free, 0);
  ASSERT_EQ(in.shutdown_rc, 0);
  /* The peer's read either got the bytes or failed once when shutdown_now closed it. */
  t_op_wait(&peer_read);
  ASSERT_OK(nx_aio_group_await_termination(group, T_LIMIT_MS));
  ASSERT_EQ(nx_aio_group_is_terminated(group), 1);
  ASSERT_EQ(t_op_reports(&peer_read), 1);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_OK(nx_aio_group_free(group));
  return 0;
}

TEST_IMPL(aio_group_shutdown_now_with_pending) {
  nx_aio_group_t *group = NULL, *other = t_aio_group();
  nx_aio_socket_t *client = NULL, *other_client = NULL, *peer = NULL, *other_peer = NULL,
                  *extra = NULL;
  nx_aio_server_socket_t *server;
  struct sockaddr_storage addr;
  socklen_t len;
  t_op read1 = {0}, read2 = {0};
  nx_promise_t *accepting = NULL;
  char a[4], b[4];

  /* Each channel's far end is in the other group, so no end of stream can beat the close. */
  ASSERT_OK(nx_aio_group_new(2, &group));
  t_aio_pair_in(group, other, &client, &other_peer);
  t_aio_pair_in(other, group, &other_client, &peer);
  server = t_aio_listen(group, 4, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepting));
  ASSERT_OK(nx_aio_socket_read(client, a, sizeof(a), 0, &read1, &t_handler));
  ASSERT_OK(nx_aio_socket_read(peer, b, sizeof(b), 5000, &read2, &t_handler));

  ASSERT_EQ(nx_aio_group_is_shutdown(group), 0);
  ASSERT_OK(nx_aio_group_shutdown_now(group));
  ASSERT_EQ(nx_aio_group_is_shutdown(group), 1);
  ASSERT_EQ(nx_aio_socket_open(group, &extra), NX_EGROUPSHUTDOWN);
  ASSERT_NULL(extra);
  ASSERT_OK(nx_aio_group_await_termination(group, T_LIMIT_MS));
  ASSERT_EQ(nx_aio_group_is_terminated(group), 1);
  ASSERT_EQ(t_op_error(&read1), NX_EASYNCCLOSE);
  ASSERT_EQ(t_op_error(&read2), NX_EASYNCCLOSE);
  ASSERT_EQ(t_future_result(accepting), NX_EASYNCCLOSE);
  ASSERT_EQ(nx_aio_socket_is_open(client), 0);
  ASSERT_EQ(nx_aio_socket_read(client, a, sizeof(a), 0, &read1, &t_handler), NX_ECLOSED);

  ASSERT_OK(nx_promise_free(accepting));
  ASSERT_OK(nx_aio_server_socket_free(server));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_OK(nx_aio_socket_free(other_client));
  ASSERT_OK(nx_aio_socket_free(other_peer));
  ASSERT_OK(nx_aio_group_free(group));
  ASSERT_EQ(nx_aio_group_free(group), NX_EBADHANDLE);
  t_aio_group_free(other);
  return 0;
}

TEST_IMPL(aio_group_shutdown_waits_for_channels) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_socket_t *client = NULL, *peer = NULL;

  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_group_shutdown(group));
  ASSERT_EQ(nx_aio_group_await_termination(group, 50), NX_ETIMEDOUT);
  ASSERT_EQ(nx_aio_group_is_terminated(group), 0);
  ASSERT_OK(nx_aio_socket_close(client));
  ASSERT_OK(nx_aio_socket_close(peer));
  ASSERT_OK(nx_aio_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  ASSERT_OK(nx_aio_group_free(group));
  return 0;
}

TEST_IMPL(aio_group_borrowed_loops) {
  nx_loop_group_t *loops = NULL;
  nx_aio_group_t *group = NULL;
  nx_aio_socket_t *client = NULL, *peer = NULL;
  t_op write = {0}, read = {0};
  char in[4];

  ASSERT_OK(nx_loop_group_new(1, &loops));
  ASSERT_OK(nx_aio_group_with_loop_group(loops, &group));
  t_aio_pair(group, &client, &peer);
  ASSERT_OK(nx_aio_socket_write(client, "ab", 2, 0, &write, &t_handler));
  ASSERT_OK(nx_aio_socket_read(peer, in, sizeof(in), 0, &read, &t_handler));
  ASSERT_EQ(t_op_result(&write), 2);
  ASSERT_EQ(t_op_result(&read), 2);
  ASSERT_OK(nx_aio_socket_free(client));
  ASSERT_OK(nx_aio_socket_free(peer));
  t_aio_group_free(group);
  /* The borrowed loops still run. */
  ASSERT_EQ(nx_loop_group_is_terminated(loops), 0);
  ASSERT_OK(nx_loop_group_free(loops));
  ASSERT_EQ(nx_aio_group_new(1, NULL), NX_EINVAL);
  return 0;
}
