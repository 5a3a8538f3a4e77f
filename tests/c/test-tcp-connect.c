/* Connecting and accepting: non-blocking connect through OP_CONNECT and finish_connect, a
 * refused connect, accept with nothing waiting, and the state errors. */
#include "net-helpers.h"

TEST_IMPL(tcp_connect_nonblocking) {
  nx_selector_t *selector;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_selection_key_t *server_key;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  int64_t deadline;
  int rc;
  ASSERT_OK(nx_selector_open(&selector));
  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_OK(nx_server_socket_channel_register(server, selector, NX_OP_ACCEPT, NULL, NULL,
                                              &server_key));
  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  ASSERT_EQ(nx_socket_channel_is_connected(client), 0);
  ASSERT_EQ(nx_socket_channel_finish_connect(client), NX_ENOCONNPENDING);
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_CONNECT, NULL, NULL, &key));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  if (rc == -EINPROGRESS) {
    ASSERT_EQ(nx_socket_channel_is_connection_pending(client), 1);
    ASSERT_EQ(nx_socket_channel_connect(client, (struct sockaddr *)&addr, len),
              NX_ECONNPENDING);
    /* OP_CONNECT is selected once the connect is done; finish it. */
    deadline = t_now_ms() + T_LIMIT_MS;
    while ((rc = nx_selection_key_is_connectable(key)) != 1) {
      ASSERT_GE(rc, 0);
      ASSERT(t_now_ms() < deadline);
      (void)t_select(selector, 100);
    }
    ASSERT_OK(nx_socket_channel_finish_connect(client));
  } else {
    ASSERT_OK(rc);
  }
  ASSERT_EQ(nx_socket_channel_is_connection_pending(client), 0);
  ASSERT_EQ(nx_socket_channel_is_connected(client), 1);
  ASSERT_OK(nx_socket_channel_finish_connect(client)); /* 0 once connected */
  ASSERT_EQ(nx_socket_channel_connect(client, (struct sockaddr *)&addr, len), NX_EISCONNECTED);
  /* The server's key is acceptable. */
  deadline = t_now_ms() + T_LIMIT_MS;
  while (nx_selection_key_is_acceptable(server_key) != 1) {
    ASSERT(t_now_ms() < deadline);
    (void)t_select(selector, 100);
  }
  ASSERT_OK(nx_server_socket_channel_accept(server, &peer));
  ASSERT_NOT_NULL(peer);
  ASSERT_EQ(nx_socket_channel_is_connected(peer), 1);
  ASSERT_EQ(nx_socket_channel_is_blocking(peer), 1); /* accepted channels block, as in Java */
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(tcp_connect_refused) {
  nx_selector_t *selector;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_selection_key_t *key;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  uint32_t ready = 0;
  int rc;
  int freed = 0;
  /* A port nobody listens on: bound, then closed. */
  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_server_socket_channel_free(server));

  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_CONNECT, &freed, t_count_free,
                                       &key));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  if (rc == -EINPROGRESS) {
    /* The failure is reported as connectable, and finish_connect returns the error. */
    ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
    ASSERT_EQ(nx_selection_key_is_connectable(key), 1);
    ASSERT_OK(nx_selection_key_ready_ops(key, &ready));
    ASSERT_EQ(ready, NX_OP_CONNECT);
    rc = nx_socket_channel_finish_connect(client);
  }
  ASSERT_EQ(rc, -ECONNREFUSED);
  /* As in Java, the failed connect closed the channel (and cancelled its key). */
  ASSERT_EQ(nx_socket_channel_is_open(client), 0);
  ASSERT_EQ(nx_socket_channel_finish_connect(client), NX_ECLOSED);
  ASSERT_EQ(t_load(&freed), 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(tcp_accept_none_waiting) {
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *peer = (nx_socket_channel_t *)&peer;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_EQ(nx_server_socket_channel_accept(server, &peer), NX_ENOTBOUND);
  ASSERT_PTR_EQ(peer, &peer);
  ASSERT_EQ(nx_server_socket_channel_local_address(server, &addr, &len), NX_ENOTBOUND);
  ASSERT_OK(nx_server_socket_channel_free(server));

  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_EQ(nx_server_socket_channel_is_blocking(server), 0);
  ASSERT_OK(nx_server_socket_channel_accept(server, &peer));
  ASSERT_NULL(peer); /* none yet */
  ASSERT_EQ(nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, len, 0),
            NX_EALREADYBOUND);
  ASSERT_EQ(nx_server_socket_channel_accept(server, NULL), NX_EINVAL);
  ASSERT_OK(nx_server_socket_channel_free(server));
  return 0;
}

TEST_IMPL(tcp_unconnected_errors) {
  nx_socket_channel_t *channel;
  char buf[4];
  size_t n = 7;
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_EQ(nx_socket_channel_read(channel, buf, sizeof(buf), &n), NX_ENOTCONNECTED);
  ASSERT_EQ(nx_socket_channel_write(channel, "x", 1, &n), NX_ENOTCONNECTED);
  ASSERT_EQ(n, 7);
  ASSERT_EQ(nx_socket_channel_shutdown_output(channel), NX_ENOTCONNECTED);
  ASSERT_EQ(nx_socket_channel_shutdown_input(channel), NX_ENOTCONNECTED);
  ASSERT_OK(nx_socket_channel_free(channel));
  return 0;
}
