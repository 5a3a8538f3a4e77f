/* Handle misuse on TCP channels: NULL and wrong types are NX_EINVAL, freed handles
 * NX_EBADHANDLE, closed channels NX_ECLOSED (close itself: 0, every time). */
#include <sys/uio.h>

#include "net-helpers.h"

TEST_IMPL(tcp_handle_null) {
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  nx_socket_channel_t *out = NULL;
  size_t n = 9;
  int64_t value = 9;
  int fd = 9;
  char buf[1];
  struct iovec iov = {buf, 1};
  ASSERT_EQ(nx_socket_channel_open(NULL), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_open(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_close(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_close(NULL), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_connect(NULL, (struct sockaddr *)&addr, len), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_finish_connect(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_read(NULL, buf, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_readv(NULL, &iov, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_write(NULL, buf, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_writev(NULL, &iov, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_is_open(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_is_connected(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_get_option(NULL, NX_SO_LINGER, &value), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_fd(NULL, &fd), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_bind(NULL, (struct sockaddr *)&addr, len, 0), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_accept(NULL, &out), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_is_blocking(NULL), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_register(NULL, NULL, 0, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(n + (size_t)value + (size_t)fd, 27);
  ASSERT_NULL(out);
  return 0;
}

TEST_IMPL(tcp_handle_wrong_type) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *out = NULL;
  size_t n;
  int fd;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_EQ(nx_socket_channel_read((nx_socket_channel_t *)selector, &fd, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_free((nx_socket_channel_t *)server), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_close((nx_socket_channel_t *)selector), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_accept((nx_server_socket_channel_t *)channel, &out),
            NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_free((nx_server_socket_channel_t *)selector), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_fd((nx_socket_channel_t *)server, &fd), NX_EINVAL);
  ASSERT_NULL(out);
  /* Nothing was closed or freed by those calls. */
  ASSERT_EQ(nx_socket_channel_is_open(channel), 1);
  ASSERT_EQ(nx_server_socket_channel_is_open(server), 1);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(tcp_handle_after_free) {
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  size_t n;
  int fd;
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_EQ(nx_socket_channel_free(channel), NX_EBADHANDLE);
  ASSERT_EQ(nx_server_socket_channel_free(server), NX_EBADHANDLE);
  ASSERT_EQ(nx_socket_channel_close(channel), NX_EBADHANDLE);
  ASSERT_EQ(nx_socket_channel_write(channel, "x", 1, &n), NX_EBADHANDLE);
  ASSERT_EQ(nx_socket_channel_is_open(channel), NX_EBADHANDLE);
  ASSERT_EQ(nx_server_socket_channel_fd(server, &fd), NX_EBADHANDLE);
  ASSERT_EQ(nx_server_socket_channel_configure_blocking(server, 0), NX_EBADHANDLE);
  return 0;
}

TEST_IMPL(tcp_handle_after_close) {
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *peer = NULL;
  nx_selector_t *selector;
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  int64_t value;
  size_t n;
  int fd;
  char buf[1];
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_socket_channel_close(channel));
  ASSERT_OK(nx_socket_channel_close(channel)); /* twice: 0 */
  ASSERT_OK(nx_server_socket_channel_close(server));
  ASSERT_OK(nx_server_socket_channel_close(server));
  ASSERT_EQ(nx_socket_channel_is_open(channel), 0);
  ASSERT_EQ(nx_server_socket_channel_is_open(server), 0);
  ASSERT_EQ(nx_socket_channel_connect(channel, (struct sockaddr *)&addr, len), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_read(channel, buf, 1, &n), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_write(channel, buf, 1, &n), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_is_connected(channel), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_is_blocking(channel), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_configure_blocking(channel, 0), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_get_option(channel, NX_SO_LINGER, &value), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_fd(channel, &fd), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_register(channel, selector, 0, NULL, NULL, NULL), NX_ECLOSED);
  ASSERT_EQ(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len, 0), NX_ECLOSED);
  ASSERT_EQ(nx_server_socket_channel_accept(server, &peer), NX_ECLOSED);
  ASSERT_EQ(nx_server_socket_channel_local_address(server, &addr, &len), NX_ECLOSED);
  ASSERT_NULL(peer);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
