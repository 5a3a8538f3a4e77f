/* Adopting descriptors made elsewhere (nx_*_channel_open_fd, libuv's uv_tcp_open) and handing
 * them over (nx_*_channel_detach): states found out, bad descriptors refused and left alone,
 * detach refused while registered, a blocked read woken. */
#include <fcntl.h>

#include "net-helpers.h"

static int raw_socket(int domain, int type) {
  int fd = socket(domain, type, 0);
  ASSERT_GE(fd, 0);
  return fd;
}

static int is_open_fd(int fd) { return fcntl(fd, F_GETFD) != -1; }

static int is_nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

static int is_cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

/* A plain blocking socket listening on 127.0.0.1, its port in *port. */
static int raw_listener(uint16_t *port) {
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  int fd = raw_socket(AF_INET, SOCK_STREAM);
  ASSERT_OK(bind(fd, (struct sockaddr *)&addr, len));
  ASSERT_OK(listen(fd, 8));
  len = sizeof(addr);
  ASSERT_OK(getsockname(fd, (struct sockaddr *)&addr, &len));
  *port = t_port(&addr);
  return fd;
}

/* A plain blocking socket connected to 127.0.0.1:port. */
static int raw_connected(uint16_t port) {
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, port, &addr);
  int fd = raw_socket(AF_INET, SOCK_STREAM);
  ASSERT_OK(connect(fd, (struct sockaddr *)&addr, len));
  return fd;
}

TEST_IMPL(tcp_adopt_connected) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  char buf[4];
  int fd;
  t_listen(AF_INET, &server, &addr, &len);
  fd = raw_connected(t_port(&addr));
  ASSERT(!is_nonblocking(fd) && !is_cloexec(fd));
  ASSERT_OK(nx_socket_channel_open_fd(fd, &client));
  ASSERT(is_nonblocking(fd) && is_cloexec(fd)); /* set underneath */
  ASSERT_EQ(nx_socket_channel_is_blocking(client), 1);
  ASSERT_EQ(nx_socket_channel_is_connected(client), 1);
  ASSERT_EQ(t_socket_fd(client), fd);
  peer = t_accept(server);
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  t_write_all(client, "ping", 4);
  t_read_exact(peer, buf, 4);
  ASSERT(memcmp(buf, "ping", 4) == 0);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT(!is_open_fd(fd)); /* the channel owned it */
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

TEST_IMPL(tcp_adopt_listener) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  uint16_t port;
  int fd = raw_listener(&port);
  int rc;
  ASSERT_OK(nx_server_socket_channel_open_fd(fd, &server));
  ASSERT_OK(nx_server_socket_channel_local_address(server, &addr, &len));
  ASSERT_EQ(t_port(&addr), port); /* bound: it was listening */
  ASSERT_EQ(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len, 0),
            NX_EALREADYBOUND);
  ASSERT_OK(nx_socket_channel_open_family(AF_INET, &client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);
  peer = t_accept(server);
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

TEST_IMPL(tcp_adopt_unconnected) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  int rc;
  ASSERT_OK(nx_server_socket_channel_open_fd(raw_socket(AF_INET, SOCK_STREAM), &server));
  ASSERT_EQ(nx_server_socket_channel_local_address(server, &addr, &len), NX_ENOTBOUND);
  len = t_loopback(AF_INET, 0, &addr);
  ASSERT_OK(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len, 0));
  ASSERT_OK(nx_server_socket_channel_local_address(server, &addr, &len));
  ASSERT_OK(nx_socket_channel_open_fd(raw_socket(AF_INET, SOCK_STREAM), &client));
  ASSERT_EQ(nx_socket_channel_is_connected(client), 0);
  ASSERT_EQ(nx_socket_channel_is_connection_pending(client), 0);
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);
  t_finish_connect(client);
  ASSERT_EQ(nx_socket_channel_is_connected(client), 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

/* Every refusal leaves the descriptor open, blocking and the caller's, and *out unchanged. */
TEST_IMPL(tcp_adopt_bad_descriptors) {
  nx_socket_channel_t *sentinel = (nx_socket_channel_t *)&sentinel;
  nx_socket_channel_t *client = sentinel;
  nx_server_socket_channel_t *server_sentinel = (nx_server_socket_channel_t *)&server_sentinel;
  nx_server_socket_channel_t *server = server_sentinel;
  static const int kinds[][2] = {{AF_INET, SOCK_DGRAM}, {AF_UNIX, SOCK_STREAM}};
  int pipe_fds[2];
  uint16_t port;
  int listening;
  int connected;
  size_t i;
  ASSERT_EQ(nx_socket_channel_open_fd(-1, &client), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_open_fd(-1, &server), NX_EINVAL);
  ASSERT_OK(pipe(pipe_fds));
  ASSERT_EQ(nx_socket_channel_open_fd(pipe_fds[0], &client), -ENOTSOCK);
  ASSERT(is_open_fd(pipe_fds[0]));
  ASSERT_OK(close(pipe_fds[0]));
  ASSERT_OK(close(pipe_fds[1]));
  ASSERT_EQ(nx_socket_channel_open_fd(pipe_fds[0], &client), -EBADF); /* a closed number */
  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    int fd = raw_socket(kinds[i][0], kinds[i][1]);
    ASSERT_EQ(nx_socket_channel_open_fd(fd, &client), NX_EINVAL);
    ASSERT_EQ(nx_server_socket_channel_open_fd(fd, &server), NX_EINVAL);
    ASSERT(is_open_fd(fd) && !is_nonblocking(fd));
    ASSERT_OK(close(fd));
  }
  listening = raw_listener(&port);
  ASSERT_EQ(nx_socket_channel_open_fd(listening, &client), NX_EINVAL);
  connected = raw_connected(port);
  ASSERT_EQ(nx_server_socket_channel_open_fd(connected, &server), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_open_fd(connected, NULL), NX_EINVAL);
  ASSERT(is_open_fd(listening) && !is_nonblocking(listening));
  ASSERT(is_open_fd(connected) && !is_nonblocking(connected));
  ASSERT_PTR_EQ(client, sentinel);
  ASSERT_PTR_EQ(server, server_sentinel);
  ASSERT_OK(close(connected));
  ASSERT_OK(close(listening));
  return 0;
}

/* No handle left: the adoption is undone and the descriptor stays open, the caller's. */
TEST_IMPL(tcp_adopt_without_a_handle_left) {
  nx_socket_channel_t *client = NULL;
  nx_selector_t *selector;
  int fd = raw_socket(AF_INET, SOCK_STREAM);
  ASSERT_OK(nx_selector_open(&selector)); /* a live handle, so the limit is not 0 (default) */
  ASSERT_OK(nx_debug_handle_limit(nx_debug_live_handles()));
  ASSERT_EQ(nx_socket_channel_open_fd(fd, &client), -ENOMEM);
  ASSERT_OK(nx_debug_handle_limit(0));
  ASSERT_NULL(client);
  ASSERT(is_open_fd(fd));
  ASSERT_OK(nx_socket_channel_open_fd(fd, &client)); /* still adoptable */
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT(!is_open_fd(fd));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(tcp_detach) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_server_socket_channel_t *server;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  char buf[2];
  size_t n = 7;
  int fd = -1;
  int server_fd = -1;
  t_pair(&client, &peer);
  ASSERT_EQ(nx_socket_channel_detach(client, NULL), NX_EINVAL);
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 1));
  ASSERT_OK(nx_socket_channel_detach(client, &fd));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(nx_socket_channel_is_open(client), 0);
  ASSERT_EQ(nx_socket_channel_write(client, "x", 1, &n), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_detach(client, &server_fd), NX_ECLOSED);
  ASSERT_EQ(server_fd, -1);
  ASSERT_OK(nx_socket_channel_free(client));
  /* Open, ours, in the channel's (blocking) mode, close-on-exec. */
  ASSERT(is_open_fd(fd) && !is_nonblocking(fd) && is_cloexec(fd));
  ASSERT_EQ(write(fd, "ok", 2), 2);
  t_read_exact(peer, buf, 2);
  ASSERT(memcmp(buf, "ok", 2) == 0);
  ASSERT_OK(close(fd));
  /* A non-blocking channel gives a non-blocking descriptor. */
  ASSERT_OK(nx_socket_channel_detach(peer, &fd));
  ASSERT(is_nonblocking(fd));
  ASSERT_OK(close(fd));
  ASSERT_OK(nx_socket_channel_free(peer));

  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_server_socket_channel_detach(server, &server_fd));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT(is_open_fd(server_fd));
  ASSERT_OK(nx_server_socket_channel_open_fd(server_fd, &server)); /* and back */
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT(!is_open_fd(server_fd));
  return 0;
}

TEST_IMPL(tcp_detach_registered) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selector_t *selector;
  nx_selection_key_t *key;
  int fd = -1;
  t_pair(&client, &peer);
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_READ, NULL, NULL, &key));
  ASSERT_EQ(nx_socket_channel_detach(client, &fd), NX_EREGISTERED);
  ASSERT_EQ(fd, -1);
  ASSERT_EQ(nx_socket_channel_is_open(client), 1); /* nothing changed */
  ASSERT_OK(nx_selection_key_cancel(key));
  ASSERT_OK(nx_socket_channel_detach(client, &fd)); /* before the next select, too */
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT(is_open_fd(fd));
  ASSERT_OK(close(fd));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* A read blocked on another thread wakes with NX_EASYNCCLOSE, and the descriptor comes back
 * only once it has left. */
TEST_IMPL(tcp_detach_wakes_blocked_read) {
  struct t_blocked_read b;
  nx_socket_channel_t *client;
  pthread_t thread;
  char buf[4];
  int fd = -1;
  memset(&b, 0, sizeof(b));
  t_pair(&client, &b.channel);
  ASSERT_OK(nx_socket_channel_configure_blocking(b.channel, 1));
  ASSERT_OK(pthread_create(&thread, NULL, t_blocking_read, &b));
  t_wait_blocked(&b.tid, &b.returned);
  ASSERT_OK(nx_socket_channel_detach(b.channel, &fd));
  t_join_soon(&b.returned, thread);
  ASSERT_EQ(b.rc, NX_EASYNCCLOSE);
  t_write_all(client, "late", 4);
  ASSERT_EQ(read(fd, buf, 4), 4); /* blocking, and ours */
  ASSERT_OK(close(fd));
  ASSERT_OK(nx_socket_channel_free(b.channel));
  ASSERT_OK(nx_socket_channel_free(client));
  return 0;
}

/* A close with a read blocked on another thread, then a detach (refused, NX_ECLOSED): the
 * close still closes the descriptor when the read leaves. */
TEST_IMPL(tcp_detach_after_close_still_closes) {
  struct t_blocked_read b;
  nx_socket_channel_t *client;
  pthread_t thread;
  int fd = -1;
  int got = -1;
  memset(&b, 0, sizeof(b));
  t_pair(&client, &b.channel);
  ASSERT_OK(nx_socket_channel_configure_blocking(b.channel, 1));
  ASSERT_OK(nx_socket_channel_fd(b.channel, &fd));
  ASSERT_OK(pthread_create(&thread, NULL, t_blocking_read, &b));
  t_wait_blocked(&b.tid, &b.returned);
  ASSERT_OK(nx_socket_channel_close(b.channel));
  ASSERT_EQ(nx_socket_channel_detach(b.channel, &got), NX_ECLOSED);
  ASSERT_EQ(got, -1);
  t_join_soon(&b.returned, thread);
  ASSERT_EQ(b.rc, NX_EASYNCCLOSE);
  ASSERT_OK(nx_socket_channel_free(b.channel));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT(!is_open_fd(fd));
  return 0;
}

/* A bound socket that does not listen cannot be a server channel (its bind could not bind it
 * again); it stays the caller's, untouched. */
TEST_IMPL(tcp_adopt_bound_not_listening) {
  nx_server_socket_channel_t *server = NULL;
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  int fd = raw_socket(AF_INET, SOCK_STREAM);
  ASSERT_OK(bind(fd, (struct sockaddr *)&addr, len));
  ASSERT_EQ(nx_server_socket_channel_open_fd(fd, &server), NX_EINVAL);
  ASSERT_NULL(server);
  ASSERT(is_open_fd(fd) && !is_nonblocking(fd) && !is_cloexec(fd));
  ASSERT_OK(close(fd));
  return 0;
}
