/* Socket options: each one set and read back (what the kernel promises), the supported lists,
 * unsupported and unknown options. */
#include "net-helpers.h"

static int64_t get_socket(nx_socket_channel_t *channel, int option) {
  int64_t value = -12345;
  ASSERT_OK(nx_socket_channel_get_option(channel, option, &value));
  return value;
}

static void set_socket(nx_socket_channel_t *channel, int option, int64_t value) {
  ASSERT_OK(nx_socket_channel_set_option(channel, option, value));
}

TEST_IMPL(tcp_options_socket) {
  static const int flags[] = {NX_SO_REUSEADDR, NX_SO_REUSEPORT, NX_TCP_NODELAY,
                              NX_SO_KEEPALIVE};
  nx_socket_channel_t *channel;
  nx_socket_channel_t *v6;
  int64_t value = 77;
  size_t i;
  ASSERT_OK(nx_socket_channel_open_family(AF_INET, &channel));
  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    set_socket(channel, flags[i], 1);
    ASSERT_EQ(get_socket(channel, flags[i]), 1);
    set_socket(channel, flags[i], 0);
    ASSERT_EQ(get_socket(channel, flags[i]), 0);
  }
  /* Linux doubles buffer sizes: what it promises is at least what was set. */
  set_socket(channel, NX_SO_RCVBUF, 65536);
  ASSERT_GE(get_socket(channel, NX_SO_RCVBUF), 65536);
  set_socket(channel, NX_SO_SNDBUF, 65536);
  ASSERT_GE(get_socket(channel, NX_SO_SNDBUF), 65536);
  ASSERT_EQ(nx_socket_channel_set_option(channel, NX_SO_RCVBUF, 0), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_set_option(channel, NX_SO_SNDBUF, -1), NX_EINVAL);
  /* SO_LINGER in seconds, negative = off (read back as -1). */
  ASSERT_EQ(get_socket(channel, NX_SO_LINGER), -1);
  set_socket(channel, NX_SO_LINGER, 5);
  ASSERT_EQ(get_socket(channel, NX_SO_LINGER), 5);
  set_socket(channel, NX_SO_LINGER, 0);
  ASSERT_EQ(get_socket(channel, NX_SO_LINGER), 0);
  set_socket(channel, NX_SO_LINGER, -7);
  ASSERT_EQ(get_socket(channel, NX_SO_LINGER), -1);
  /* IPV6_V6ONLY is an IPv6 socket's option: an IPv4 channel does not support it. */
  ASSERT_EQ(nx_socket_channel_get_option(channel, NX_IPV6_V6ONLY, &value), NX_ENOOPT);
  ASSERT_EQ(nx_socket_channel_set_option(channel, NX_IPV6_V6ONLY, 1), NX_ENOOPT);
  /* Unknown option numbers are invalid arguments. */
  ASSERT_EQ(nx_socket_channel_set_option(channel, 0, 1), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_set_option(channel, 12, 1), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_get_option(channel, -1, &value), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_get_option(channel, NX_SO_LINGER, NULL), NX_EINVAL);
  ASSERT_EQ(value, 77);
  ASSERT_OK(nx_socket_channel_free(channel));

  if (nx_socket_channel_open_family(AF_INET6, &v6) == 0) {
    ASSERT_EQ(get_socket(v6, NX_IPV6_V6ONLY), 0); /* dual-stack by default */
    set_socket(v6, NX_IPV6_V6ONLY, 1);
    ASSERT_EQ(get_socket(v6, NX_IPV6_V6ONLY), 1);
    ASSERT_OK(nx_socket_channel_free(v6));
  }
  return 0;
}

/* Keep-alive tuning: each value round-trips, bad values change nothing, and tuning leaves
 * SO_KEEPALIVE as it was. A listener does not take them. */
TEST_IMPL(tcp_options_keepalive) {
  static const int options[] = {NX_TCP_KEEPIDLE, NX_TCP_KEEPINTVL, NX_TCP_KEEPCNT};
  static const int64_t values[] = {42, 7, 3};
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  size_t i;
  ASSERT_OK(nx_socket_channel_open_family(AF_INET, &channel));
  for (i = 0; i < 3; i++) {
    set_socket(channel, options[i], values[i]);
    ASSERT_EQ(get_socket(channel, options[i]), values[i]);
    ASSERT_EQ(nx_socket_channel_set_option(channel, options[i], 0), NX_EINVAL);
    ASSERT_EQ(nx_socket_channel_set_option(channel, options[i], -1), NX_EINVAL);
    ASSERT_EQ(nx_socket_channel_set_option(channel, options[i], INT64_C(1) << 40), NX_EINVAL);
    ASSERT_EQ(get_socket(channel, options[i]), values[i]);
  }
  ASSERT_EQ(nx_socket_channel_set_option(channel, NX_TCP_KEEPCNT, 1000), -EINVAL);
  ASSERT_EQ(get_socket(channel, NX_SO_KEEPALIVE), 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_open_family(AF_INET, &server));
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_TCP_KEEPIDLE, 5), NX_ENOOPT);
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

TEST_IMPL(tcp_options_server) {
  nx_server_socket_channel_t *server;
  int64_t value = 0;
  ASSERT_OK(nx_server_socket_channel_open_family(AF_INET, &server));
  ASSERT_OK(nx_server_socket_channel_get_option(server, NX_SO_REUSEADDR, &value));
  ASSERT_EQ(value, 1); /* on by default, as Java does on Linux */
  ASSERT_OK(nx_server_socket_channel_set_option(server, NX_SO_REUSEPORT, 1));
  ASSERT_OK(nx_server_socket_channel_get_option(server, NX_SO_REUSEPORT, &value));
  ASSERT_EQ(value, 1);
  ASSERT_OK(nx_server_socket_channel_set_option(server, NX_SO_RCVBUF, 32768));
  ASSERT_OK(nx_server_socket_channel_get_option(server, NX_SO_RCVBUF, &value));
  ASSERT_GE(value, 32768);
  /* Options a listener does not support. */
  value = 55;
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_TCP_NODELAY, 1), NX_ENOOPT);
  ASSERT_EQ(nx_server_socket_channel_get_option(server, NX_TCP_NODELAY, &value), NX_ENOOPT);
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_SO_KEEPALIVE, 1), NX_ENOOPT);
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_SO_SNDBUF, 4096), NX_ENOOPT);
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_SO_LINGER, 1), NX_ENOOPT);
  ASSERT_EQ(nx_server_socket_channel_set_option(server, 100, 1), NX_EINVAL);
  ASSERT_EQ(value, 55);
  ASSERT_OK(nx_server_socket_channel_close(server));
  ASSERT_EQ(nx_server_socket_channel_get_option(server, NX_SO_REUSEADDR, &value), NX_ECLOSED);
  ASSERT_EQ(nx_server_socket_channel_set_option(server, NX_SO_REUSEADDR, 1), NX_ECLOSED);
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

static int contains(const int *options, size_t count, int option) {
  size_t i;
  for (i = 0; i < count; i++)
    if (options[i] == option)
      return 1;
  return 0;
}

TEST_IMPL(tcp_options_supported) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *channel;
  int options[16];
  size_t count = 0;
  size_t short_count = 0;
  int option;
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_socket_channel_open(&channel));
  /* capacity 0 asks for the size */
  ASSERT_OK(nx_server_socket_channel_supported_options(server, NULL, 0, &count));
  ASSERT_EQ(count, 4);
  ASSERT_OK(nx_server_socket_channel_supported_options(server, options, 16, &count));
  ASSERT_EQ(count, 4);
  ASSERT(contains(options, count, NX_SO_REUSEADDR));
  ASSERT(contains(options, count, NX_SO_REUSEPORT));
  ASSERT(contains(options, count, NX_SO_RCVBUF));
  ASSERT(contains(options, count, NX_IPV6_V6ONLY));
  ASSERT(!contains(options, count, NX_TCP_NODELAY));
  ASSERT_OK(nx_socket_channel_supported_options(channel, options, 16, &count));
  ASSERT_EQ(count, 11);
  for (option = NX_SO_REUSEADDR; option <= NX_TCP_KEEPCNT; option++)
    ASSERT(contains(options, count, option));
  /* A short array gets the first entries and the full count. */
  options[2] = -1;
  ASSERT_OK(nx_socket_channel_supported_options(channel, options, 2, &short_count));
  ASSERT_EQ(short_count, 11);
  ASSERT_EQ(options[2], -1);
  ASSERT_EQ(nx_socket_channel_supported_options(channel, NULL, 2, &count), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_supported_options(channel, options, 16, NULL), NX_EINVAL);
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_socket_channel_free(channel));
  return 0;
}
