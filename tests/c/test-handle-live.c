/* nx_live_handles, the leak check a test's teardown can call: each type's count goes up with
 * the handles a test makes and back down once they are freed. */
#include "net-helpers.h"

static size_t live(int kind) {
  size_t count = 12345;
  ASSERT_OK(nx_live_handles(kind, &count));
  ASSERT_NE(count, 12345);
  return count;
}

TEST_IMPL(handle_live_by_type) {
  static const int kinds[] = {NX_HANDLE_ALL,    NX_HANDLE_SELECTOR,       NX_HANDLE_SELECTION_KEY,
                              NX_HANDLE_SOCKET_CHANNEL, NX_HANDLE_SERVER_SOCKET_CHANNEL,
                              NX_HANDLE_LOOP,   NX_HANDLE_TIMER};
  size_t before[sizeof(kinds) / sizeof(kinds[0])];
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_loop_t *loop;
  size_t i;
  size_t count = 77;
  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    before[i] = live(kinds[i]);
  ASSERT_EQ(before[0], nx_debug_live_handles());

  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_EQ(live(NX_HANDLE_SELECTOR), before[1] + 1);
  t_pair(&client, &peer);
  ASSERT_EQ(live(NX_HANDLE_SOCKET_CHANNEL), before[3] + 2);
  ASSERT_EQ(live(NX_HANDLE_SERVER_SOCKET_CHANNEL), before[4]); /* t_pair freed its server */
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_READ, NULL, NULL, &key));
  ASSERT_EQ(live(NX_HANDLE_SELECTION_KEY), before[2] + 1);
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_EQ(live(NX_HANDLE_LOOP), before[5] + 1);
  ASSERT_EQ(live(NX_HANDLE_TIMER), before[6]);
  ASSERT_EQ(live(NX_HANDLE_ALL), before[0] + 5);

  ASSERT_OK(nx_loop_free(loop));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector)); /* forgets the key */
  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    ASSERT_EQ(live(kinds[i]), before[i]);

  ASSERT_EQ(nx_live_handles(-1, &count), NX_EINVAL);
  ASSERT_EQ(nx_live_handles(NX_HANDLE_BYTE_SINK + 1, &count), NX_EINVAL);
  ASSERT_EQ(nx_live_handles(NX_HANDLE_ALL, NULL), NX_EINVAL);
  ASSERT_EQ(count, 77);
  return 0;
}
