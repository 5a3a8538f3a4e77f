/* Registering channels: every refusal (nothing kept, attachment_free never called), and
 * re-registering, which updates the ops and replaces the attachment. */
#include "net-helpers.h"

TEST_IMPL(selector_register_blocking_channel) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key = NULL;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_EQ(nx_socket_channel_is_blocking(channel), 1); /* new channels block, as in Java */
  ASSERT_EQ(nx_socket_channel_register(channel, selector, NX_OP_READ, &freed, t_count_free, &key),
            NX_EBLOCKINGMODE);
  ASSERT_NULL(key);
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(freed, 0);
  return 0;
}

TEST_IMPL(selector_register_unsupported_ops) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_EQ(nx_socket_channel_register(channel, selector, NX_OP_ACCEPT, &freed, t_count_free,
                                       NULL),
            NX_EOPS);
  ASSERT_EQ(nx_server_socket_channel_register(server, selector, NX_OP_READ, &freed,
                                              t_count_free, NULL),
            NX_EOPS);
  ASSERT_EQ(nx_server_socket_channel_register(server, selector, NX_OP_WRITE | NX_OP_ACCEPT,
                                              &freed, t_count_free, NULL),
            NX_EOPS);
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(freed, 0);
  return 0;
}

TEST_IMPL(selector_register_unknown_bits) {
  static const uint32_t bad[] = {2, 32, 64, 0x80000000u, NX_OP_READ | 2};
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  size_t i;
  int freed = 0;
  uint32_t ops = 77;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ASSERT_EQ(nx_socket_channel_register(channel, selector, bad[i], &freed, t_count_free, NULL),
              NX_EINVAL);
  /* The same check guards interest changes. */
  ASSERT_OK(nx_socket_channel_register(channel, selector, 0, NULL, NULL, &key));
  ASSERT_EQ(nx_selection_key_set_interest_ops(key, 2), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_set_interest_ops(key, NX_OP_ACCEPT), NX_EOPS);
  ASSERT_OK(nx_selection_key_interest_ops(key, &ops));
  ASSERT_EQ(ops, 0);
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_register_closed) {
  nx_selector_t *selector;
  nx_selector_t *closed_selector;
  nx_socket_channel_t *channel;
  nx_socket_channel_t *closed_channel;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_open(&closed_selector));
  ASSERT_OK(nx_selector_close(closed_selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_open(&closed_channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(closed_channel, 0));
  ASSERT_OK(nx_socket_channel_close(closed_channel));
  ASSERT_EQ(nx_socket_channel_register(channel, closed_selector, NX_OP_READ, &freed,
                                       t_count_free, NULL),
            NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_register(closed_channel, selector, NX_OP_READ, &freed,
                                       t_count_free, NULL),
            NX_ECLOSED);
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_socket_channel_free(closed_channel));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_OK(nx_selector_free(closed_selector));
  ASSERT_EQ(freed, 0);
  return 0;
}

TEST_IMPL(selector_register_elsewhere) {
  nx_selector_t *first;
  nx_selector_t *second;
  nx_socket_channel_t *channel;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&first));
  ASSERT_OK(nx_selector_open(&second));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, first, NX_OP_READ, NULL, NULL, NULL));
  ASSERT_EQ(nx_socket_channel_register(channel, second, NX_OP_READ, &freed, t_count_free, NULL),
            NX_EREGISTERED);
  ASSERT_EQ(freed, 0);
  /* Registered: blocking mode is refused. */
  ASSERT_EQ(nx_socket_channel_configure_blocking(channel, 1), NX_EBLOCKINGMODE);
  /* Once the first selector is gone the channel may register with the second. */
  ASSERT_OK(nx_selector_free(first));
  ASSERT_OK(nx_socket_channel_register(channel, second, NX_OP_READ, &freed, t_count_free, NULL));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(freed, 1);
  ASSERT_OK(nx_selector_free(second));
  ASSERT_EQ(freed, 1);
  return 0;
}

TEST_IMPL(selector_reregister_updates) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key1 = NULL;
  nx_selection_key_t *key2 = NULL;
  int first = 0;
  int second = 0;
  uint32_t ops = 0;
  void *attachment = NULL;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_READ, &first, t_count_free, &key1));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_WRITE, &second, t_count_free,
                                       &key2));
  ASSERT_PTR_EQ(key1, key2); /* the same key */
  ASSERT_EQ(first, 1);      /* the replaced attachment was freed, once, here */
  ASSERT_EQ(second, 0);
  ASSERT_OK(nx_selection_key_interest_ops(key2, &ops));
  ASSERT_EQ(ops, NX_OP_WRITE);
  ASSERT_OK(nx_selection_key_attachment(key2, &attachment));
  ASSERT_PTR_EQ(attachment, &second);
  /* The new interest is what the next select reports: writable, not readable. */
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(nx_selection_key_is_writable(key2), 1);
  ASSERT_EQ(nx_selection_key_is_readable(key2), 0);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_EQ(first, 1);
  ASSERT_EQ(second, 1);
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(first, 1);
  ASSERT_EQ(second, 1);
  return 0;
}

/* A register that fails for want of a handle (-ENOMEM) keeps nothing: not the attachment, and
 * not the registration (the channel registers again, or goes back to blocking, at once). */
TEST_IMPL(selector_register_without_a_handle_left) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key = NULL;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_debug_handle_limit(nx_debug_live_handles()));
  ASSERT_EQ(nx_socket_channel_register(channel, selector, NX_OP_READ, &freed, t_count_free, &key),
            -ENOMEM);
  ASSERT_OK(nx_debug_handle_limit(0));
  ASSERT_NULL(key);
  ASSERT_EQ(freed, 0);
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 1));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, selector, NX_OP_READ, &freed, t_count_free, &key));
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(freed, 1);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
