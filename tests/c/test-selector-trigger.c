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
