/* fork(): objects made before the fork answer NX_EFORKED in the child; the child may free them
 * (closing its copies of the descriptors without touching the parent's epoll set), and the
 * parent's selector goes on working. */
#include "net-helpers.h"

static nx_selector_t *g_selector;
static nx_socket_channel_t *g_client;
static nx_socket_channel_t *g_peer;
static nx_server_socket_channel_t *g_server;
static nx_selection_key_t *g_key;
static int g_freed;

static int child_refuses_then_frees(void) {
  nx_selector_t *fresh;
  uint32_t ops;
  size_t n;
  char buf[4];
  ASSERT_EQ(nx_selector_select_now(g_selector, &n), NX_EFORKED);
  ASSERT_EQ(nx_selector_wakeup(g_selector), NX_EFORKED);
  ASSERT_EQ(nx_socket_channel_read(g_peer, buf, sizeof(buf), &n), NX_EFORKED);
  ASSERT_EQ(nx_socket_channel_write(g_client, "x", 1, &n), NX_EFORKED);
  ASSERT_EQ(nx_socket_channel_is_open(g_peer), NX_EFORKED);
  ASSERT_EQ(nx_server_socket_channel_accept(g_server, &g_peer), NX_EFORKED);
  ASSERT_EQ(nx_selection_key_interest_ops(g_key, &ops), NX_EFORKED);
  ASSERT_EQ(nx_selection_key_is_valid(g_key), NX_EFORKED);
  ASSERT_EQ(nx_socket_channel_register(g_client, g_selector, NX_OP_READ, NULL, NULL, NULL),
            NX_EFORKED);
  /* New objects work in the child. */
  ASSERT_OK(nx_selector_open(&fresh));
  ASSERT_OK(nx_selector_select_now(fresh, &n));
  ASSERT_OK(nx_selector_free(fresh));
  /* Freeing the parent's objects here is allowed, and leaves the parent alone. */
  ASSERT_OK(nx_socket_channel_free(g_peer));
  ASSERT_OK(nx_socket_channel_free(g_client));
  ASSERT_OK(nx_server_socket_channel_free(g_server));
  ASSERT_OK(nx_selector_free(g_selector));
  return 0;
}

TEST_IMPL(selector_fork_child) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  char buf[8];
  size_t n = 1;
  size_t cursor = 0;
  nx_selection_key_t *walked;
  ASSERT_OK(nx_selector_open(&g_selector));
  t_pair(&g_client, &g_peer);
  t_listen(AF_INET, &g_server, &addr, &len);
  ASSERT_OK(nx_socket_channel_register(g_peer, g_selector, NX_OP_READ, &g_freed, t_count_free,
                                       &g_key));
  ASSERT_EQ(t_select(g_selector, 20), 0);

  ASSERT_OK(t_in_child(child_refuses_then_frees));

  /* The parent: its registration survived the child's frees, data is still seen. */
  ASSERT_EQ(g_freed, 0);
  ASSERT_EQ(nx_socket_channel_is_open(g_peer), 1);
  t_write_all(g_client, "after", 5);
  ASSERT_EQ(t_select(g_selector, T_LIMIT_MS), 1);
  ASSERT_OK(nx_selector_next_selected(g_selector, &cursor, &walked));
  ASSERT_PTR_EQ(walked, g_key);
  t_read_exact(g_peer, buf, 5);
  ASSERT(memcmp(buf, "after", 5) == 0);
  ASSERT_OK(nx_socket_channel_read(g_peer, buf, sizeof(buf), &n)); /* drained: would block */
  ASSERT_EQ(n, 0);
  /* And its wakeup still works. */
  ASSERT_OK(nx_selector_wakeup(g_selector));
  ASSERT_EQ(t_select(g_selector, T_LIMIT_MS), 0);
  ASSERT_OK(nx_socket_channel_free(g_peer));
  ASSERT_EQ(g_freed, 1);
  ASSERT_OK(nx_socket_channel_free(g_client));
  ASSERT_OK(nx_server_socket_channel_free(g_server));
  ASSERT_OK(nx_selector_free(g_selector));
  return 0;
}

/* A child forked while a parent thread waits in a select may still free the selector (the
 * parent's waiting thread does not exist in the child). */
static nx_selector_t *g_selecting;

static void *select_forever(void *arg) {
  size_t n;
  (void)arg;
  nx_selector_select(g_selecting, -1, &n);
  return NULL;
}

static int child_frees_selecting_selector(void) {
  alarm(5);
  ASSERT_OK(nx_selector_free(g_selecting));
  return 0;
}

TEST_IMPL(selector_fork_while_selecting) {
  pthread_t thread;
  /* The child inherits what the selecting thread holds (its reference to the selector, its
   * thread-local data) but not the thread: memcheck would count that as the child's leak. */
  if (t_under_valgrind())
    RETURN_SKIP("a child forked while a thread selects inherits that thread's memory");
  ASSERT_OK(nx_selector_open(&g_selecting));
  ASSERT_OK(pthread_create(&thread, NULL, select_forever, NULL));
  t_sleep_ms(100); /* the thread waits in epoll_wait */
  ASSERT_OK(t_in_child(child_frees_selecting_selector));
  ASSERT_OK(nx_selector_close(g_selecting));
  ASSERT_OK(pthread_join(thread, NULL));
  ASSERT_OK(nx_selector_free(g_selecting));
  return 0;
}
