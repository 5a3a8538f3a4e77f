/* Blocking calls interrupted by close from another thread: the blocked thread is proven
 * blocked first, then close (or free) wakes it with NX_EASYNCCLOSE. */
#include "net-helpers.h"

struct blocked_accept {
  nx_server_socket_channel_t *server;
  int tid;
  int returned;
  int rc;
};

static void *blocking_accept(void *arg) {
  struct blocked_accept *b = arg;
  nx_socket_channel_t *peer = NULL;
  t_store(&b->tid, (int)t_gettid());
  b->rc = nx_server_socket_channel_accept(b->server, &peer);
  if (peer != NULL)
    nx_socket_channel_free(peer);
  t_store(&b->returned, 1);
  return NULL;
}

TEST_IMPL(tcp_blocking_accept_closed) {
  struct blocked_accept b;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  pthread_t thread;
  memset(&b, 0, sizeof(b));
  t_listen(AF_INET, &b.server, &addr, &len);
  ASSERT_EQ(nx_server_socket_channel_is_blocking(b.server), 1);
  ASSERT_OK(pthread_create(&thread, NULL, blocking_accept, &b));
  t_wait_blocked(&b.tid, &b.returned);
  ASSERT_OK(nx_server_socket_channel_close(b.server));
  t_join_soon(&b.returned, thread);
  ASSERT_EQ(b.rc, NX_EASYNCCLOSE);
  ASSERT_OK(nx_server_socket_channel_free(b.server));
  return 0;
}

/* A read blocked in another thread, then `stop` (close or free) from this one. */
static void blocked_read_stopped_by(int (*stop)(nx_socket_channel_t *)) {
  struct t_blocked_read b;
  nx_socket_channel_t *client;
  pthread_t thread;
  memset(&b, 0, sizeof(b));
  t_pair(&client, &b.channel);
  ASSERT_OK(nx_socket_channel_configure_blocking(b.channel, 1));
  ASSERT_OK(pthread_create(&thread, NULL, t_blocking_read, &b));
  t_wait_blocked(&b.tid, &b.returned);
  ASSERT_OK(stop(b.channel));
  t_join_soon(&b.returned, thread);
  ASSERT_EQ(b.rc, NX_EASYNCCLOSE);
  if (stop == nx_socket_channel_close)
    ASSERT_OK(nx_socket_channel_free(b.channel));
  else
    ASSERT_EQ(nx_socket_channel_close(b.channel), NX_EBADHANDLE);
  ASSERT_OK(nx_socket_channel_free(client));
}

TEST_IMPL(tcp_blocking_read_closed) {
  blocked_read_stopped_by(nx_socket_channel_close);
  return 0;
}

/* Free closes first: the read in flight keeps the object alive and returns the error. */
TEST_IMPL(tcp_blocking_read_freed) {
  blocked_read_stopped_by(nx_socket_channel_free);
  return 0;
}

TEST_IMPL(tcp_blocking_read_data) {
  struct t_blocked_read b;
  nx_socket_channel_t *client;
  pthread_t thread;
  memset(&b, 0, sizeof(b));
  t_pair(&client, &b.channel);
  ASSERT_OK(nx_socket_channel_configure_blocking(b.channel, 1));
  ASSERT_OK(pthread_create(&thread, NULL, t_blocking_read, &b));
  t_wait_blocked(&b.tid, &b.returned);
  t_write_all(client, "wake", 4);
  t_join_soon(&b.returned, thread);
  ASSERT_OK(b.rc);
  ASSERT_OK(nx_socket_channel_free(b.channel));
  ASSERT_OK(nx_socket_channel_free(client));
  return 0;
}
