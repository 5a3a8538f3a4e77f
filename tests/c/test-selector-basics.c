/* Selector basics: open/close/free, select timeouts, select_now, wakeup (before a select, from
 * another thread, cleared by select_now), the descriptor and the counters. */
#include <fcntl.h>

#include "net-helpers.h"

TEST_IMPL(selector_open_close_free) {
  nx_selector_t *selector = NULL;
  size_t count = 99;
  int fd = -1;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_NOT_NULL(selector);
  ASSERT_OK(nx_selector_fd(selector, &fd));
  ASSERT_GE(fd, 0);
  ASSERT_OK(nx_selector_close(selector));
  ASSERT_OK(nx_selector_close(selector)); /* idempotent */
  ASSERT_EQ(nx_selector_select(selector, 0, &count), NX_ECLOSED);
  ASSERT_EQ(nx_selector_select_now(selector, &count), NX_ECLOSED);
  ASSERT_EQ(count, 99); /* out-parameters untouched on error */
  ASSERT_EQ(nx_selector_wakeup(selector), NX_ECLOSED);
  ASSERT_EQ(nx_selector_fd(selector, &fd), NX_ECLOSED);
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(nx_selector_free(selector), NX_EBADHANDLE);
  ASSERT_EQ(nx_selector_close(selector), NX_EBADHANDLE);

  /* free without close closes */
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_EQ(nx_selector_open(NULL), NX_EINVAL);
  return 0;
}

TEST_IMPL(selector_select_timeout) {
  nx_selector_t *selector;
  int64_t start;
  int64_t elapsed;
  ASSERT_OK(nx_selector_open(&selector));
  start = t_now_ms();
  ASSERT_EQ(t_select(selector, 100), 0);
  elapsed = t_now_ms() - start;
  ASSERT_GE(elapsed, 95);
  ASSERT_LT(elapsed, T_LIMIT_MS);
  /* count_out may be NULL */
  ASSERT_OK(nx_selector_select(selector, 1, NULL));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_select_now) {
  nx_selector_t *selector;
  size_t count = 99;
  int64_t start;
  ASSERT_OK(nx_selector_open(&selector));
  start = t_now_ms();
  ASSERT_OK(nx_selector_select_now(selector, &count));
  ASSERT_EQ(count, 0);
  ASSERT_LT(t_now_ms() - start, 1000);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_wakeup_before_select) {
  nx_selector_t *selector;
  int64_t start;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_wakeup(selector));
  ASSERT_OK(nx_selector_wakeup(selector)); /* a second one while pending is cheap and harmless */
  start = t_now_ms();
  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 0);
  ASSERT_LT(t_now_ms() - start, 1000);
  /* The longest timeout C can pass is a wait, not an error. */
  ASSERT_OK(nx_selector_wakeup(selector));
  ASSERT_EQ(t_select(selector, INT64_MAX), 0);
  /* used up: the next select waits its timeout */
  start = t_now_ms();
  ASSERT_EQ(t_select(selector, 100), 0);
  ASSERT_GE(t_now_ms() - start, 95);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_select_now_clears_wakeup) {
  nx_selector_t *selector;
  int64_t start;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_selector_wakeup(selector));
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  start = t_now_ms();
  ASSERT_EQ(t_select(selector, 100), 0);
  ASSERT_GE(t_now_ms() - start, 95);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_wakeup_from_thread) {
  nx_selector_t *selector;
  struct t_selecting s;
  int64_t start;
  ASSERT_OK(nx_selector_open(&selector));
  t_start_blocked_select(&s, selector); /* 20 s: only the wakeup can end it in time */
  start = t_now_ms();
  ASSERT_OK(nx_selector_wakeup(selector));
  t_join_select(&s);
  ASSERT_LT(t_now_ms() - start, 2000);
  ASSERT_OK(s.rc);
  ASSERT_EQ(s.count, 0);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(selector_fd_and_counters) {
  nx_selector_t *selector;
  struct pollfd p;
  uint64_t waits;
  uint64_t value = 7;
  ASSERT_OK(nx_selector_open(&selector));
  waits = t_counter(selector, NX_COUNTER_WAITS);
  ASSERT_EQ(t_select(selector, 1), 0);
  ASSERT_OK(nx_selector_select_now(selector, NULL));
  ASSERT_EQ(t_counter(selector, NX_COUNTER_WAITS), waits + 2);
  ASSERT_GE(t_counter(selector, NX_COUNTER_EMPTY_WAITS), 2);
  (void)t_counter(selector, NX_COUNTER_CTL);
  (void)t_counter(selector, NX_COUNTER_EVENTS);
  ASSERT_EQ(nx_selector_counter(selector, 0, &value), NX_EINVAL);
  ASSERT_EQ(nx_selector_counter(selector, 5, &value), NX_EINVAL);
  ASSERT_EQ(nx_selector_counter(selector, NX_COUNTER_WAITS, NULL), NX_EINVAL);
  ASSERT_EQ(value, 7);
  /* The descriptor polls readable once a wakeup is pending. */
  ASSERT_OK(nx_selector_fd(selector, &p.fd));
  ASSERT_EQ(t_poll(p.fd, POLLIN, 0), 0);
  ASSERT_OK(nx_selector_wakeup(selector));
  ASSERT(t_poll(p.fd, POLLIN, T_LIMIT_MS) & POLLIN);
  ASSERT_OK(nx_selector_close(selector));
  ASSERT_EQ(nx_selector_counter(selector, NX_COUNTER_WAITS, &value), NX_ECLOSED);
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

/* The descriptors open in this process. */
static int open_fds(void) {
  int n = 0;
  int fd;
  for (fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) != -1)
      n++;
  return n;
}

/* Close releases the epoll and wake-up descriptors at once, while the handle lives. */
TEST_IMPL(selector_close_releases_descriptors) {
  nx_selector_t *selector;
  nx_loop_t *loop;
  nx_loop_group_t *group;
  int before = open_fds();
  int fd = 0;
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_GT(open_fds(), before);
  ASSERT_OK(nx_selector_close(selector));
  ASSERT_EQ(open_fds(), before);
  ASSERT_EQ(nx_selector_fd(selector, &fd), NX_ECLOSED);
  ASSERT_OK(nx_selector_free(selector));

  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_GT(open_fds(), before);
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(open_fds(), before);
  ASSERT_OK(nx_loop_free(loop));

  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_shutdown_now(loop));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(open_fds(), before);
  ASSERT_OK(nx_loop_free(loop));

  ASSERT_OK(nx_loop_group_new(2, &group));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_EQ(open_fds(), before);
  ASSERT_OK(nx_loop_group_free(group));
  return 0;
}
