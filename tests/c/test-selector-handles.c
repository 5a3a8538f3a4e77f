/* Handle misuse on selectors and keys: NULL and wrong types are NX_EINVAL, freed handles
 * NX_EBADHANDLE, closed selectors NX_ECLOSED; out-parameters stay untouched. */
#include "net-helpers.h"

TEST_IMPL(selector_handle_null) {
  nx_selection_key_t *key = NULL;
  size_t cursor = 0;
  size_t count = 5;
  uint32_t ops = 5;
  void *attachment = NULL;
  int fd = 5;
  uint64_t value = 5;
  ASSERT_EQ(nx_selector_close(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selector_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selector_select(NULL, 0, &count), NX_EINVAL);
  ASSERT_EQ(nx_selector_select_now(NULL, &count), NX_EINVAL);
  ASSERT_EQ(nx_selector_wakeup(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selector_next_selected(NULL, &cursor, &key), NX_EINVAL);
  ASSERT_EQ(nx_selector_next_key(NULL, &cursor, &key), NX_EINVAL);
  ASSERT_EQ(nx_selector_counter(NULL, NX_COUNTER_WAITS, &value), NX_EINVAL);
  ASSERT_EQ(nx_selector_fd(NULL, &fd), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_interest_ops(NULL, &ops), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_set_interest_ops(NULL, 0), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_ready_ops(NULL, &ops), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_readable(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_writable(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_acceptable(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_connectable(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_valid(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_cancel(NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_attachment(NULL, &attachment), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_attach(NULL, &value, t_count_free, &attachment), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_set_edge_triggered(NULL, 1), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_edge_triggered(NULL), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_register(NULL, NULL, 0, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(count + ops + fd + value, 20);
  ASSERT_NULL(key);
  ASSERT_NULL(attachment);
  return 0;
}

TEST_IMPL(selector_handle_wrong_type) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  size_t count;
  uint32_t ops;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, selector, 0, NULL, NULL, &key));
  /* A handle of another type, cast by the caller, is told apart. */
  ASSERT_EQ(nx_selector_select_now((nx_selector_t *)channel, &count), NX_EINVAL);
  ASSERT_EQ(nx_selector_select_now((nx_selector_t *)key, &count), NX_EINVAL);
  ASSERT_EQ(nx_selector_free((nx_selector_t *)channel), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_interest_ops((nx_selection_key_t *)selector, &ops), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_cancel((nx_selection_key_t *)channel), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_register(channel, (nx_selector_t *)channel, 0, &freed,
                                       t_count_free, NULL),
            NX_EINVAL);
  ASSERT_EQ(nx_server_socket_channel_register((nx_server_socket_channel_t *)channel, selector,
                                              0, &freed, t_count_free, NULL),
            NX_EINVAL);
  ASSERT_EQ(freed, 0);
  /* An address that never was a handle is not dereferenced. */
  ASSERT_EQ(nx_selector_wakeup((nx_selector_t *)&count), NX_EINVAL);
  /* Nothing was disturbed. */
  ASSERT_EQ(nx_selection_key_is_valid(key), 1);
  ASSERT_OK(nx_selector_select_now(selector, &count));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_handle_after_free) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  nx_selection_key_t *walked = NULL;
  size_t cursor = 0;
  size_t count = 3;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, selector, 0, &freed, t_count_free, &key));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(freed, 1);
  ASSERT_EQ(nx_selector_free(selector), NX_EBADHANDLE); /* double free */
  ASSERT_EQ(nx_selector_close(selector), NX_EBADHANDLE);
  ASSERT_EQ(nx_selector_select_now(selector, &count), NX_EBADHANDLE);
  ASSERT_EQ(nx_selector_wakeup(selector), NX_EBADHANDLE);
  ASSERT_EQ(nx_selector_next_key(selector, &cursor, &walked), NX_EBADHANDLE);
  /* Its keys went with it. */
  ASSERT_EQ(nx_selection_key_is_valid(key), NX_EBADHANDLE);
  ASSERT_EQ(nx_selection_key_cancel(key), NX_EBADHANDLE);
  ASSERT_EQ(nx_selection_key_attach(key, &count, t_count_free, NULL), NX_EBADHANDLE);
  ASSERT_EQ(count, 3);
  ASSERT_NULL(walked);
  /* The channel lives on, no longer registered. */
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 1));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(freed, 1);
  return 0;
}

TEST_IMPL(selector_handle_after_close) {
  nx_selector_t *selector;
  nx_selection_key_t *key = NULL;
  size_t cursor = 0;
  uint64_t value;
  int fd;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_close(selector));
  ASSERT_OK(nx_selector_close(selector));
  ASSERT_EQ(nx_selector_select(selector, 10, NULL), NX_ECLOSED);
  ASSERT_EQ(nx_selector_next_selected(selector, &cursor, &key), NX_ECLOSED);
  ASSERT_EQ(nx_selector_next_key(selector, &cursor, &key), NX_ECLOSED);
  ASSERT_EQ(nx_selector_counter(selector, NX_COUNTER_CTL, &value), NX_ECLOSED);
  ASSERT_EQ(nx_selector_fd(selector, &fd), NX_ECLOSED);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
