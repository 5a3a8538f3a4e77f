/* Selection keys: one handle per registration, attachments (attach returns the previous one
 * and frees nothing; attachment_free runs exactly once), cancellation, interest changes, and
 * the key's channel and selector. */
#include "net-helpers.h"

TEST_IMPL(selection_key_same_handle) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  nx_selection_key_t *again = NULL;
  nx_selection_key_t *walked = NULL;
  size_t cursor = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_WRITE, NULL, NULL, &key));
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_WRITE, NULL, NULL, &again));
  ASSERT_PTR_EQ(key, again);
  ASSERT_OK(nx_selector_next_key(selector, &cursor, &walked));
  ASSERT_PTR_EQ(walked, key);
  ASSERT_EQ(nx_selector_next_key(selector, &cursor, &walked), NX_EOF);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  cursor = 0;
  walked = NULL;
  ASSERT_OK(nx_selector_next_selected(selector, &cursor, &walked));
  ASSERT_PTR_EQ(walked, key);
  ASSERT_EQ(cursor, 1);
  ASSERT_EQ(nx_selector_next_selected(selector, &cursor, &walked), NX_EOF);
  ASSERT_EQ(cursor, 1); /* unchanged at the end */
  ASSERT_EQ(nx_selector_next_selected(selector, NULL, &walked), NX_EINVAL);
  ASSERT_EQ(nx_selector_next_selected(selector, &cursor, NULL), NX_EINVAL);
  /* And again after another select. */
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  cursor = 0;
  ASSERT_OK(nx_selector_next_selected(selector, &cursor, &walked));
  ASSERT_PTR_EQ(walked, key);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selection_key_attach) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  int a = 0;
  int b = 0;
  int c = 0;
  void *previous = NULL;
  void *current = NULL;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_socket_channel_open(&channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(channel, 0));
  ASSERT_OK(nx_socket_channel_register(channel, selector, 0, &a, t_count_free, &key));
  ASSERT_OK(nx_selection_key_attach(key, &b, t_count_free, &previous));
  ASSERT_PTR_EQ(previous, &a);
  ASSERT_EQ(a, 0); /* handed back: attach frees nothing */
  ASSERT_OK(nx_selection_key_attachment(key, &current));
  ASSERT_PTR_EQ(current, &b);
  /* previous_out may be NULL: the previous attachment is then simply the caller's again. */
  ASSERT_OK(nx_selection_key_attach(key, &c, t_count_free, NULL));
  ASSERT_EQ(b, 0);
  ASSERT_OK(nx_selection_key_attach(key, NULL, NULL, &previous));
  ASSERT_PTR_EQ(previous, &c);
  ASSERT_OK(nx_selection_key_attachment(key, &current));
  ASSERT_NULL(current);
  ASSERT_EQ(c, 0);
  /* A failed attach keeps nothing and frees nothing. */
  ASSERT_OK(nx_selection_key_cancel(key));
  previous = &previous;
  ASSERT_EQ(nx_selection_key_attach(key, &a, t_count_free, &previous), NX_ECANCELLEDKEY);
  ASSERT_PTR_EQ(previous, &previous);
  ASSERT_EQ(a, 0);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(a + b + c, 0);
  return 0;
}

/* Registers a fresh channel with an attachment counted in *freed. */
static nx_selection_key_t *registered(nx_selector_t *selector, nx_socket_channel_t **channel,
                                      int *freed) {
  nx_selection_key_t *key;
  ASSERT_OK(nx_socket_channel_open(channel));
  ASSERT_OK(nx_socket_channel_configure_blocking(*channel, 0));
  ASSERT_OK(nx_socket_channel_register(*channel, selector, NX_OP_READ, freed, t_count_free, &key));
  return key;
}

TEST_IMPL(selection_key_attachment_freed_once) {
  nx_selector_t *selector;
  nx_socket_channel_t *cancelled;
  nx_socket_channel_t *closed;
  nx_socket_channel_t *kept;
  nx_selection_key_t *key;
  int on_cancel = 0;
  int on_close = 0;
  int on_selector_free = 0;
  ASSERT_OK(nx_selector_open(&selector));

  key = registered(selector, &cancelled, &on_cancel);
  ASSERT_OK(nx_selection_key_cancel(key));
  ASSERT_EQ(on_cancel, 1); /* at once, on this thread */
  ASSERT_OK(nx_selection_key_cancel(key));
  ASSERT_EQ(on_cancel, 1);

  (void)registered(selector, &closed, &on_close);
  ASSERT_OK(nx_socket_channel_close(closed));
  ASSERT_EQ(on_close, 1);
  ASSERT_OK(nx_socket_channel_close(closed));
  ASSERT_OK(nx_socket_channel_free(closed));
  ASSERT_EQ(on_close, 1);

  (void)registered(selector, &kept, &on_selector_free);
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT_EQ(on_selector_free, 0);
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(on_selector_free, 1);
  ASSERT_OK(nx_socket_channel_free(kept));
  ASSERT_OK(nx_socket_channel_free(cancelled));
  ASSERT_EQ(on_cancel, 1);
  ASSERT_EQ(on_close, 1);
  ASSERT_EQ(on_selector_free, 1);
  return 0;
}

TEST_IMPL(selection_key_cancelled) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_selection_key_t *key;
  nx_selection_key_t *fresh;
  nx_socket_channel_t *back = NULL;
  nx_selector_t *owner = NULL;
  uint32_t ops = 0;
  void *attachment;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  key = registered(selector, &channel, &freed);
  ASSERT_EQ(nx_selection_key_is_valid(key), 1);
  ASSERT_OK(nx_selection_key_cancel(key));
  /* Until the next select: cancelled-key errors, except what still makes sense. */
  ASSERT_EQ(nx_selection_key_is_valid(key), 0);
  ASSERT_EQ(nx_selection_key_interest_ops(key, &ops), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_set_interest_ops(key, NX_OP_WRITE), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_ready_ops(key, &ops), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_is_readable(key), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_attachment(key, &attachment), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_set_edge_triggered(key, 1), NX_ECANCELLEDKEY);
  ASSERT_OK(nx_selection_key_cancel(key));
  ASSERT_OK(nx_selection_key_socket_channel(key, &back));
  ASSERT_PTR_EQ(back, channel);
  ASSERT_OK(nx_selection_key_selector(key, &owner));
  ASSERT_PTR_EQ(owner, selector);
  ASSERT_EQ(nx_socket_channel_register(channel, selector, NX_OP_READ, NULL, NULL, NULL),
            NX_ECANCELLEDKEY);
  /* The next select forgets the key: its handle is gone. */
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT_EQ(nx_selection_key_is_valid(key), NX_EBADHANDLE);
  ASSERT_EQ(nx_selection_key_cancel(key), NX_EBADHANDLE);
  ASSERT_EQ(nx_selection_key_interest_ops(key, &ops), NX_EBADHANDLE);
  /* And the channel can register again, with a new key. */
  ASSERT_OK(nx_socket_channel_register(channel, selector, NX_OP_READ, NULL, NULL, &fresh));
  ASSERT(fresh != key);
  ASSERT_EQ(nx_selection_key_is_valid(fresh), 1);
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(nx_selection_key_is_valid(fresh), 0);
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(nx_selection_key_is_valid(fresh), NX_EBADHANDLE);
  ASSERT_EQ(freed, 1);
  return 0;
}

TEST_IMPL(selection_key_interest_change) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  uint32_t ops = 0;
  uint64_t ctl;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, NX_OP_READ, NULL, NULL, &key));
  ctl = t_counter(selector, NX_COUNTER_CTL);
  ASSERT_EQ(t_select(selector, 50), 0); /* nothing to read */
  ASSERT_OK(nx_selection_key_set_interest_ops(key, NX_OP_READ | NX_OP_WRITE));
  ASSERT_OK(nx_selection_key_interest_ops(key, &ops));
  ASSERT_EQ(ops, NX_OP_READ | NX_OP_WRITE);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_selection_key_ready_ops(key, &ops));
  ASSERT_EQ(ops, NX_OP_WRITE);
  ASSERT_EQ(nx_selection_key_is_writable(key), 1);
  ASSERT_EQ(nx_selection_key_is_readable(key), 0);
  ASSERT_EQ(nx_selection_key_is_acceptable(key), 0);
  ASSERT_EQ(nx_selection_key_is_connectable(key), 0);
  ASSERT_OK(nx_selection_key_set_interest_ops(key, 0));
  ASSERT_EQ(t_select(selector, 50), 0);
  /* Interest changes cost no system call. */
  ASSERT_EQ(t_counter(selector, NX_COUNTER_CTL), ctl);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selection_key_accessors) {
  nx_selector_t *selector;
  nx_socket_channel_t *channel;
  nx_server_socket_channel_t *server;
  nx_selection_key_t *key;
  nx_selection_key_t *server_key;
  nx_socket_channel_t *socket_out = NULL;
  nx_server_socket_channel_t *server_out = NULL;
  nx_selector_t *selector_out = NULL;
  int freed = 0;
  ASSERT_OK(nx_selector_open(&selector));
  key = registered(selector, &channel, &freed);
  ASSERT_OK(nx_server_socket_channel_open(&server));
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_OK(nx_server_socket_channel_register(server, selector, NX_OP_ACCEPT, NULL, NULL,
                                              &server_key));
  ASSERT(server_key != key);
  ASSERT_OK(nx_selection_key_socket_channel(key, &socket_out));
  ASSERT_PTR_EQ(socket_out, channel);
  ASSERT_OK(nx_selection_key_server_socket_channel(server_key, &server_out));
  ASSERT_PTR_EQ(server_out, server);
  ASSERT_OK(nx_selection_key_selector(server_key, &selector_out));
  ASSERT_PTR_EQ(selector_out, selector);
  /* The other kind of channel is an invalid request. */
  ASSERT_EQ(nx_selection_key_server_socket_channel(key, &server_out), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_socket_channel(server_key, &socket_out), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_socket_channel(key, NULL), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_is_edge_triggered(key), 0);
  ASSERT_OK(nx_selection_key_set_edge_triggered(key, 1));
  ASSERT_EQ(nx_selection_key_is_edge_triggered(key), 1);
  /* A freed channel's key still exists until the next select, but the channel is gone. */
  ASSERT_OK(nx_socket_channel_free(channel));
  ASSERT_EQ(nx_selection_key_is_valid(key), 0);
  ASSERT_EQ(nx_selection_key_socket_channel(key, &socket_out), NX_EBADHANDLE);
  ASSERT_PTR_EQ(socket_out, channel);
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT_EQ(nx_selection_key_socket_channel(key, &socket_out), NX_EBADHANDLE);
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(freed, 1);
  return 0;
}

/* interest_ops_or / interest_ops_and: the set before comes back, the change is seen by the
 * next select, a mask with any bits may be and-ed, invalid ops and cancelled keys change
 * nothing. */
TEST_IMPL(selection_key_interest_or_and) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  uint32_t before = 99;
  uint32_t ops = 0;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, 0, NULL, NULL, &key));
  ASSERT_OK(nx_selection_key_interest_ops_or(key, NX_OP_READ, &before));
  ASSERT_EQ(before, 0);
  ASSERT_OK(nx_selection_key_interest_ops_or(key, NX_OP_WRITE, &before));
  ASSERT_EQ(before, NX_OP_READ);
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_selection_key_ready_ops(key, &ops));
  ASSERT_EQ(ops, NX_OP_WRITE);
  ASSERT_OK(nx_selection_key_interest_ops_and(key, ~NX_OP_WRITE, &before));
  ASSERT_EQ(before, NX_OP_READ | NX_OP_WRITE);
  ASSERT_OK(nx_selection_key_interest_ops(key, &ops));
  ASSERT_EQ(ops, NX_OP_READ);
  ASSERT_EQ(t_select(selector, 50), 0); /* nothing to read, no write interest */
  ASSERT_OK(nx_selection_key_interest_ops_or(key, 0, NULL)); /* the set before is optional */
  before = 99;
  ASSERT_EQ(nx_selection_key_interest_ops_or(key, NX_OP_ACCEPT, &before), NX_EOPS);
  ASSERT_EQ(nx_selection_key_interest_ops_or(key, 1u << 30, &before), NX_EINVAL);
  ASSERT_EQ(nx_selection_key_interest_ops_or(NULL, NX_OP_READ, &before), NX_EINVAL);
  ASSERT_EQ(before, 99);
  ASSERT_OK(nx_selection_key_interest_ops(key, &ops));
  ASSERT_EQ(ops, NX_OP_READ); /* unchanged */
  ASSERT_OK(nx_selection_key_cancel(key));
  ASSERT_EQ(nx_selection_key_interest_ops_or(key, NX_OP_WRITE, &before), NX_ECANCELLEDKEY);
  ASSERT_EQ(nx_selection_key_interest_ops_and(key, 0, &before), NX_ECANCELLEDKEY);
  ASSERT_EQ(before, 99);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

struct bit_toggler {
  nx_selection_key_t *key;
  uint32_t bit;
  int failures;
};

/* Sets and clears its own bit: setting must find it clear and clearing must find it set,
 * whatever the other thread does to its bit meanwhile. */
static void *toggle_bit(void *arg) {
  struct bit_toggler *t = arg;
  uint32_t before;
  int i;
  for (i = 0; i < 20000; i++) {
    if (nx_selection_key_interest_ops_or(t->key, t->bit, &before) != 0 || (before & t->bit))
      t->failures++;
    if (nx_selection_key_interest_ops_and(t->key, ~t->bit, &before) != 0 || !(before & t->bit))
      t->failures++;
  }
  return NULL;
}

TEST_IMPL(selection_key_interest_or_and_atomic) {
  nx_selector_t *selector;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_selection_key_t *key;
  struct bit_toggler togglers[2];
  pthread_t threads[2];
  uint32_t ops = 99;
  int i;
  ASSERT_OK(nx_selector_open(&selector));
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_register(client, selector, 0, NULL, NULL, &key));
  for (i = 0; i < 2; i++) {
    togglers[i].key = key;
    togglers[i].bit = i == 0 ? NX_OP_READ : NX_OP_WRITE;
    togglers[i].failures = 0;
    ASSERT_OK(pthread_create(&threads[i], NULL, toggle_bit, &togglers[i]));
  }
  for (i = 0; i < 2; i++) {
    ASSERT_OK(pthread_join(threads[i], NULL));
    ASSERT_EQ(togglers[i].failures, 0);
  }
  ASSERT_OK(nx_selection_key_interest_ops(key, &ops));
  ASSERT_EQ(ops, 0);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}
