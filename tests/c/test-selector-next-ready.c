/* nx_selector_next_ready: the selected keys with their ready ops and attachments in one call;
 * optional out-parameters; a key cancelled during the walk reports 0 and NULL. */
#include "net-helpers.h"

TEST_IMPL(selector_next_ready) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *client_key;
  nx_selection_key_t *peer_key;
  nx_selection_key_t *key = NULL;
  int client_tag = 1, peer_tag = 2;
  uint32_t ready = 99;
  void *attachment = NULL;
  size_t cursor = 0;
  int seen = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  ASSERT_OK(nx_socket_channel_configure_blocking(peer, 0));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_WRITE, &client_tag, NULL,
                                       &client_key));
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, &peer_tag, NULL, &peer_key));
  t_write_all(client, "x", 1);
  /* Wait until both are ready: the peer's data may trail the client's writability. */
  {
    int64_t deadline = t_now_ms() + T_LIMIT_MS;
    while (t_select(selector, T_LIMIT_MS) < 2 && t_now_ms() < deadline)
      t_sleep_ms(1);
  }
  while (nx_selector_next_ready(selector, &cursor, &key, &ready, &attachment) == 0) {
    if (key == client_key) {
      ASSERT_EQ(ready, NX_OP_WRITE);
      ASSERT_PTR_EQ(attachment, &client_tag);
    } else {
      ASSERT_PTR_EQ(key, peer_key);
      ASSERT_EQ(ready, NX_OP_READ);
      ASSERT_PTR_EQ(attachment, &peer_tag);
    }
    seen++;
  }
  ASSERT_EQ(seen, 2);
  ASSERT_EQ(cursor, 2);
  /* The optional out-parameters may be NULL; cursor and key may not. */
  cursor = 0;
  ASSERT_OK(nx_selector_next_ready(selector, &cursor, &key, NULL, NULL));
  ASSERT_EQ(nx_selector_next_ready(selector, NULL, &key, &ready, NULL), NX_EINVAL);
  ASSERT_EQ(nx_selector_next_ready(selector, &cursor, NULL, &ready, NULL), NX_EINVAL);
  /* A key cancelled during the walk: 0 and NULL, and the walk goes on. */
  ASSERT_OK(nx_selection_key_cancel(client_key));
  ASSERT_OK(nx_selection_key_cancel(peer_key));
  cursor = 0;
  seen = 0;
  while (nx_selector_next_ready(selector, &cursor, &key, &ready, &attachment) == 0) {
    ASSERT_EQ(ready, 0);
    ASSERT_NULL(attachment);
    seen++;
  }
  ASSERT_EQ(seen, 2);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
