/* Another thread registers, changes interest, cancels or closes while a select blocks: no
 * deadlock, and nothing is lost (the blocked select sees it, or the next one does). */
#include "net-helpers.h"

TEST_IMPL(selector_thread_register_during_select) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_selection_key_t *walked;
  struct t_selecting s;
  size_t cursor = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  t_write_all(client, "x", 1);
  t_start_blocked_select(&s, selector);
  /* Registering a ready channel from here reaches the blocked select. */
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &key));
  t_join_select(&s);
  ASSERT_OK(s.rc);
  ASSERT_EQ(s.count, 1);
  ASSERT_OK(nx_selector_next_selected(selector, &cursor, &walked));
  ASSERT_PTR_EQ(walked, key);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_thread_interest_during_select) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  struct t_selecting s;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, 0, NULL, NULL, &key));
  t_start_blocked_select(&s, selector);
  /* An interest change costs no system call, so it cannot wake the select by itself; it is
   * not lost: after a wakeup the same select, or the next, reports it. */
  ASSERT_OK(nx_selection_key_set_interest_ops(key, NX_OP_WRITE));
  ASSERT_OK(nx_selector_wakeup(selector));
  t_join_select(&s);
  ASSERT_OK(s.rc);
  if (s.count == 0)
    ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(nx_selection_key_is_writable(key), 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

/* Cancel the key, or close its channel, while another thread's select blocks: the call
 * returns at once (no deadlock), the attachment is freed on this thread, and data arriving
 * for the channel no longer selects it. */
static void invalidate_during_select(int close_channel) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  struct t_selecting s;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, &freed, t_count_free, &key));
  t_start_blocked_select(&s, selector);
  if (close_channel)
    ASSERT_OK(nx_socket_channel_close(peer)); /* also leaves the epoll set at once */
  else
    ASSERT_OK(nx_selection_key_cancel(key)); /* deregistered at the next select */
  ASSERT_EQ(t_load(&freed), 1);
  ASSERT_EQ(nx_selection_key_is_valid(key), 0);
  t_write_all(client, "x", 1);
  t_sleep_ms(50);
  ASSERT_OK(nx_selector_wakeup(selector));
  t_join_select(&s);
  ASSERT_OK(s.rc);
  ASSERT_EQ(s.count, 0);
  /* Not lost: the next select forgets the key. */
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT_EQ(nx_selection_key_is_valid(key), NX_EBADHANDLE);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(t_load(&freed), 1);
}

TEST_IMPL(selector_thread_cancel_during_select) {
  invalidate_during_select(0);
  return 0;
}

TEST_IMPL(selector_thread_channel_close_during_select) {
  invalidate_during_select(1);
  return 0;
}

TEST_IMPL(selector_thread_close_during_select) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  struct t_selecting s;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, selector, 0, &freed, t_count_free, &key));
  t_start_blocked_select(&s, selector);
  ASSERT_OK(nx_selector_close(selector)); /* wakes the select */
  ASSERT_EQ(t_load(&freed), 1);           /* on this thread */
  t_join_select(&s);
  ASSERT_OK(s.rc);
  ASSERT_EQ(s.count, 0);
  ASSERT_EQ(nx_selection_key_is_valid(key), NX_EBADHANDLE);
  ASSERT_EQ(nx_socket_channel_is_open(channel), 1); /* its channels stay open */
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(t_load(&freed), 1);
  return 0;
}

TEST_IMPL(selector_thread_free_during_select) {
  nx_selector_t *selector;
  struct t_selecting s;
  ASSERT_OK(nx_selector_open(&selector));
  t_start_blocked_select(&s, selector);
  ASSERT_OK(nx_selector_free(selector)); /* the select in flight keeps the object alive */
  t_join_select(&s);
  ASSERT_OK(s.rc);
  ASSERT_EQ(s.count, 0);
  ASSERT_EQ(nx_selector_select_now(selector, NULL), NX_EBADHANDLE);
  return 0;
}
