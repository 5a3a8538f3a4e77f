/* Level- and edge-triggered keys: data left unread is reported again (level), or once per new
 * arrival (edge); neither costs an epoll_ctl per event. */
#include "net-helpers.h"

TEST_IMPL(selector_level_triggered) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_selection_key_t *walked;
  char buf[4];
  size_t cursor;
  size_t n = 0;
  uint64_t ctl;
  int round;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &key));
  ctl = t_counter(selector, NX_COUNTER_CTL);
  t_write_all(client, "abcdefgh", 8);
  for (round = 0; round < 5; round++) {
    /* Not consumed: selected again, every time. */
    ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
    cursor = 0;
    ASSERT_OK(nx_selector_next_selected(selector, &cursor, &walked));
    ASSERT_PTR_EQ(walked, key);
    ASSERT_EQ(nx_selection_key_is_readable(key), 1);
  }
  /* Partly consumed: still selected. */
  ASSERT_OK(nx_socket_channel_read(peer, buf, 4, &n));
  ASSERT_EQ(n, 4);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_socket_channel_read(peer, buf, 4, &n));
  ASSERT_EQ(n, 4);
  ASSERT(memcmp(buf, "efgh", 4) == 0);
  /* Drained (the next read would block): no longer selected. */
  ASSERT_OK(nx_socket_channel_read(peer, buf, 4, &n));
  ASSERT_EQ(n, 0);
  ASSERT_EQ(t_select(selector, 50), 0);
  ASSERT_EQ(t_counter(selector, NX_COUNTER_CTL), ctl);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_edge_triggered) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  char buf[16];
  size_t n = 0;
  uint64_t ctl;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &key));
  ASSERT_OK(nx_selection_key_set_edge_triggered(key, 1));
  ASSERT_EQ(nx_selection_key_is_edge_triggered(key), 1);
  ctl = t_counter(selector, NX_COUNTER_CTL);
  t_write_all(client, "one", 3);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(nx_selection_key_is_readable(key), 1);
  /* Unread, but no new edge: not selected again. */
  ASSERT_EQ(t_select(selector, 50), 0);
  /* A new arrival is a new edge. */
  t_write_all(client, "two", 3);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(t_select(selector, 50), 0);
  ASSERT_OK(nx_socket_channel_read(peer, buf, sizeof(buf), &n));
  ASSERT_EQ(n, 6);
  ASSERT(memcmp(buf, "onetwo", 6) == 0);
  ASSERT_EQ(t_counter(selector, NX_COUNTER_CTL), ctl);
  /* Back to level-triggered: unread data is reported on every select. */
  ASSERT_OK(nx_selection_key_set_edge_triggered(key, 0));
  t_write_all(client, "three", 5);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

/* A socket registered before its connect, and a server registered before its bind: epoll
 * reports the idle socket as hung up, which must neither be reported as ready nor stick as an
 * error after the connect or the bind (the selector would spin). */
TEST_IMPL(selector_registered_before_connect_or_bind) {
  nx_selector_t *selector;
  nx_server_socket_channel_t *server;
  nx_server_socket_channel_t *unbound;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_selection_key_t *unbound_key;
  struct sockaddr_storage addr, any;
  socklen_t len = sizeof(addr), any_len;
  int64_t deadline;
  int rc, i;
  ASSERT_OK(nx_selector_open(&selector));
  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_CONNECT, NULL, NULL, &key));
  ASSERT_EQ(t_select(selector, 50), 0); /* no connect pending: nothing to report */
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  if (rc == -EINPROGRESS) {
    deadline = t_now_ms() + T_LIMIT_MS;
    while (nx_selection_key_is_connectable(key) != 1) {
      ASSERT(t_now_ms() < deadline);
      (void)t_select(selector, 100);
    }
    ASSERT_OK(nx_socket_channel_finish_connect(client));
  } else {
    ASSERT_OK(rc);
  }
  peer = t_accept(server);
  ASSERT_OK(nx_selection_key_set_interest_ops(key, NX_OP_READ));
  for (i = 0; i < 3; i++)
    ASSERT_EQ(t_select(selector, 30), 0); /* no data: never readable */

  ASSERT_OK(nx_server_socket_channel_open(&unbound));
  ASSERT_OK(nx_server_socket_channel_configure_blocking(unbound, 0));
  ASSERT_OK(nx_server_socket_channel_register(unbound, selector, NX_OP_ACCEPT, NULL, NULL,
                                              &unbound_key));
  ASSERT_EQ(t_select(selector, 50), 0);
  any_len = t_loopback(AF_INET, 0, &any);
  ASSERT_OK(nx_server_socket_channel_bind(unbound, (struct sockaddr *)&any, any_len, 0));
  for (i = 0; i < 3; i++)
    ASSERT_EQ(t_select(selector, 30), 0); /* no connection: never acceptable */

  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(unbound));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

/* A read that takes exactly what was there leaves the key unselected (a read that fills its
 * buffer with more behind keeps it selected). */
TEST_IMPL(selector_exact_read_drains) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  char buf[7];
  size_t n = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &key));
  t_write_all(client, "1234567", 7);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_socket_channel_read(peer, buf, sizeof buf, &n));
  ASSERT_EQ(n, 7);
  ASSERT_EQ(t_select(selector, 100), 0); /* nothing is left to read */
  t_write_all(client, "12345678", 8);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_socket_channel_read(peer, buf, sizeof buf, &n));
  ASSERT_EQ(n, 7);
  ASSERT_EQ(t_select(selector, 0), 1); /* one byte is */
  ASSERT_EQ(nx_selection_key_is_readable(key), 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

/* What the selector's descriptor says, as documented: it may poll readable for readiness
 * outside every interest (a select then selects nothing), and a key still ready after a
 * select is selected again although the descriptor need not poll readable. */
TEST_IMPL(selector_fd_readiness_as_documented) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  int fd = -1;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_fd(selector, &fd));
  t_pair(&client, &peer);
  /* A connected socket is writable at once: epoll has an edge for it, outside the interest. */
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &key));
  ASSERT_EQ(t_poll(fd, POLLIN, T_LIMIT_MS), POLLIN);
  ASSERT_EQ(t_select(selector, 0), 0);
  ASSERT_EQ(t_poll(fd, POLLIN, 0), 0); /* the select took the edge */
  /* Data left unread: the descriptor shows the first edge only; the selector keeps it. */
  t_write_all(client, "abc", 3);
  ASSERT_EQ(t_poll(fd, POLLIN, T_LIMIT_MS), POLLIN);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(t_poll(fd, POLLIN, 0), 0);
  ASSERT_EQ(t_select(selector, 0), 1); /* selected again: poll with a zero timeout then */
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
