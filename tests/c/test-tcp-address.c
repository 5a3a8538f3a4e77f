/* Addresses: IPv6 (::1) bind, connect and addresses; IPv4 on a dual-stack channel; the
 * address argument checks and the not-bound / not-connected errors. */
#include "net-helpers.h"

static int ipv6_loopback_available(void) {
  nx_server_socket_channel_t *server;
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET6, 0, &addr);
  int rc;
  if (nx_server_socket_channel_open_family(AF_INET6, &server) != 0)
    return 0;
  rc = nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len, 1);
  ASSERT_OK(nx_server_socket_channel_free(server));
  return rc == 0;
}

TEST_IMPL(tcp_ipv6_loopback) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct sockaddr_storage local;
  struct sockaddr_storage remote;
  struct sockaddr_storage peer_local;
  socklen_t local_len = sizeof(local);
  socklen_t remote_len = sizeof(remote);
  socklen_t peer_len = sizeof(peer_local);
  const struct sockaddr_in6 *sin6;
  char buf[2];
  if (!ipv6_loopback_available())
    RETURN_SKIP("no IPv6 loopback (::1) on this machine");
  t_pair_family(AF_INET6, &client, &peer);
  ASSERT_OK(nx_socket_channel_local_address(client, &local, &local_len));
  ASSERT_OK(nx_socket_channel_remote_address(client, &remote, &remote_len));
  ASSERT_OK(nx_socket_channel_local_address(peer, &peer_local, &peer_len));
  ASSERT_EQ(local.ss_family, AF_INET6);
  ASSERT_EQ(local_len, sizeof(struct sockaddr_in6));
  ASSERT_EQ(remote.ss_family, AF_INET6);
  ASSERT_EQ(remote_len, sizeof(struct sockaddr_in6));
  sin6 = (const struct sockaddr_in6 *)&remote;
  ASSERT(memcmp(&sin6->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr)) == 0);
  ASSERT_EQ(t_port(&remote), t_port(&peer_local)); /* the client talks to the listener's port */
  ASSERT_NE(t_port(&local), 0);
  t_write_all(client, "6", 1);
  t_read_exact(peer, buf, 1);
  ASSERT_EQ(buf[0], '6');
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

TEST_IMPL(tcp_ipv4_on_dual_stack) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct sockaddr_storage bind_addr;
  struct sockaddr_storage addr;
  struct sockaddr_storage remote;
  socklen_t bind_len = t_loopback(AF_INET, 0, &bind_addr);
  socklen_t len = sizeof(addr);
  socklen_t remote_len = sizeof(remote);
  int rc;
  /* Default channels are IPv6 dual-stack; IPv4 addresses still come back as IPv4. */
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_server_socket_channel_bind(server, (struct sockaddr *)&bind_addr, bind_len, 0));
  ASSERT_OK(nx_server_socket_channel_local_address(server, &addr, &len));
  ASSERT_EQ(addr.ss_family, AF_INET);
  ASSERT_EQ(len, sizeof(struct sockaddr_in));
  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);
  peer = t_accept(server);
  t_finish_connect(client);
  ASSERT_OK(nx_socket_channel_remote_address(client, &remote, &remote_len));
  ASSERT_EQ(remote.ss_family, AF_INET);
  ASSERT_EQ(((struct sockaddr_in *)&remote)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  ASSERT_EQ(t_port(&remote), t_port(&addr));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

TEST_IMPL(tcp_address_errors) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *channel;
  nx_socket_channel_t *v4;
  struct sockaddr_storage addr;
  struct sockaddr_storage out;
  struct sockaddr unix_addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  socklen_t out_len = 1234;
  nx_socket_channel_t *unchanged = NULL;
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_EQ(nx_server_socket_channel_bind(server, NULL, len, 0), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len - 1, 0),
            NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, 0, 0), NX_EINVAL);
  memset(&unix_addr, 0, sizeof(unix_addr));
  unix_addr.sa_family = AF_UNIX;
  ASSERT_EQ(nx_server_socket_channel_bind(server, &unix_addr, sizeof(unix_addr), 0), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_connect(channel, NULL, len), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_bind(channel, (struct sockaddr *)&addr, 2), NX_EINVAL);
  /* Not bound, not connected. */
  ASSERT_EQ(nx_server_socket_channel_local_address(server, &out, &out_len), NX_ENOTBOUND);
  ASSERT_EQ(nx_socket_channel_local_address(channel, &out, &out_len), NX_ENOTBOUND);
  ASSERT_EQ(nx_socket_channel_remote_address(channel, &out, &out_len), NX_ENOTCONNECTED);
  ASSERT_EQ(out_len, 1234);
  ASSERT_EQ(nx_socket_channel_remote_address(channel, NULL, &out_len), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_local_address(channel, &out, NULL), NX_EINVAL);
  /* A bound socket channel has a local address. */
  ASSERT_OK(nx_socket_channel_bind(channel, (struct sockaddr *)&addr, len));
  ASSERT_OK(nx_socket_channel_local_address(channel, &out, &out_len));
  ASSERT_EQ(out.ss_family, AF_INET);
  ASSERT_NE(t_port(&out), 0);
  /* Families: only AF_INET and AF_INET6; an IPv4 channel refuses IPv6 addresses. */
  ASSERT_EQ(nx_socket_channel_open_family(AF_UNIX, &unchanged), NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_open_family(12345, NULL), NX_EINVAL);
  ASSERT_NULL(unchanged);
  ASSERT_OK(nx_socket_channel_open_family(AF_INET, &v4));
  len = t_loopback(AF_INET6, 1, &addr);
  ASSERT_EQ(nx_socket_channel_connect(v4, (struct sockaddr *)&addr, len), -EAFNOSUPPORT);
  ASSERT_OK(nx_socket_channel_free(v4));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

/* Binding a socket channel twice, or after it connected, is NX_EALREADYBOUND, as for a server
 * channel. */
TEST_IMPL(tcp_bind_twice_already_bound) {
  nx_socket_channel_t *channel;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct sockaddr_storage addr;
  socklen_t len = t_loopback(AF_INET, 0, &addr);
  ASSERT_OK(nx_socket_channel_open_family(AF_INET, &channel));
  ASSERT_OK(nx_socket_channel_bind(channel, (struct sockaddr *)&addr, len));
  ASSERT_EQ(nx_socket_channel_bind(channel, (struct sockaddr *)&addr, len), NX_EALREADYBOUND);
  t_pair(&client, &peer);
  ASSERT_EQ(nx_socket_channel_bind(client, (struct sockaddr *)&addr, len), NX_EALREADYBOUND);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}
