/* A steady echo driven by one selector: each select costs one epoll_wait, and no epoll_ctl
 * is made per event (interest is applied in user space), so the only other system calls are
 * the reads and writes. */
#include "net-helpers.h"

#define ROUNDS 200
#define MESSAGE 64

TEST_IMPL(selector_steady_echo) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *client_key;
  nx_selection_key_t *peer_key;
  nx_selection_key_t *key;
  char message[MESSAGE];
  char buf[4096];
  size_t got = 0;
  size_t cursor;
  size_t n;
  int rounds = 0;
  uint64_t selects = 0;
  uint64_t waits;
  uint64_t ctl;
  uint64_t events;

  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_set_option(client, NX_TCP_NODELAY, 1));
  ASSERT_OK(nx_socket_channel_set_option(peer, NX_TCP_NODELAY, 1));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_READ, NULL, NULL, &client_key));
  ASSERT_OK(nx_socket_channel_register(peer, selector, NX_OP_READ, NULL, NULL, &peer_key));
  waits = t_counter(selector, NX_COUNTER_WAITS);
  ctl = t_counter(selector, NX_COUNTER_CTL);
  events = t_counter(selector, NX_COUNTER_EVENTS);

  memset(message, 'a', sizeof(message));
  t_write_all(client, message, sizeof(message));
  while (rounds < ROUNDS) {
    ASSERT_GT(t_select(selector, T_LIMIT_MS), 0);
    selects++;
    cursor = 0;
    while (nx_selector_next_selected(selector, &cursor, &key) == 0) {
      ASSERT_EQ(nx_selection_key_is_readable(key), 1);
      if (key == peer_key) {
        ASSERT_OK(nx_socket_channel_read(peer, buf, sizeof(buf), &n));
        if (n > 0)
          t_write_all(peer, buf, n); /* small: fits at once */
      } else {
        ASSERT_PTR_EQ(key, client_key);
        ASSERT_OK(nx_socket_channel_read(client, buf + got, sizeof(buf) - got, &n));
        got += n;
        if (got == MESSAGE) {
          ASSERT(memcmp(buf, message, MESSAGE) == 0);
          got = 0;
          rounds++;
          memset(message, 'a' + rounds % 26, sizeof(message));
          if (rounds < ROUNDS)
            t_write_all(client, message, sizeof(message));
        }
      }
    }
  }
  /* One epoll_wait per select, no epoll_ctl at all, about one event per message. */
  ASSERT_EQ(t_counter(selector, NX_COUNTER_WAITS) - waits, selects);
  ASSERT_EQ(t_counter(selector, NX_COUNTER_CTL), ctl);
  ASSERT_LE(selects, 2 * ROUNDS + 10);
  ASSERT_LE(t_counter(selector, NX_COUNTER_EVENTS) - events, 3 * ROUNDS);
  fprintf(stderr, "%d round trips: %" PRIu64 " selects, %" PRIu64 " waits, %" PRIu64
          " events, %" PRIu64 " epoll_ctl\n",
          ROUNDS, selects, t_counter(selector, NX_COUNTER_WAITS) - waits,
          t_counter(selector, NX_COUNTER_EVENTS) - events,
          t_counter(selector, NX_COUNTER_CTL) - ctl);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
