/* attachment_free is called exactly once on every path, on the thread the API names: the
 * loop's thread while it runs, the thread that shuts it down or waits for it afterwards, the
 * thread that closes a watch; never for a call that failed. */
#include "loop-helpers.h"

enum {
  EXECUTED,
  SUBMITTED,
  FIRED,
  CANCELLED_TIMER,
  FAILED_PERIODIC,
  LISTENED,
  WATCH_CLOSED,
  WATCH_AT_SHUTDOWN,
  REJECTED,
  PATHS
};

static int fail_second(nx_loop_t *loop, void *arg) {
  static int runs;
  (void)loop;
  (void)arg;
  return ++runs == 2 ? -EIO : 0;
}

static int submitted(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                     void *arg) {
  (void)loop;
  (void)value_out;
  (void)value_free_out;
  (void)arg;
  return 0;
}

static void ignore_listener(nx_promise_t *promise, void *arg) {
  (void)promise;
  (void)arg;
}

static void ignore_ready(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  (void)watch;
  (void)ready_ops;
  (void)arg;
}

TEST_IMPL(loop_attachment_freed_once) {
  struct t_freed f[PATHS];
  nx_loop_t *loop;
  nx_promise_t *future;
  nx_promise_t *timer;
  nx_promise_t *periodic;
  nx_promise_t *promise;
  nx_watch_t *closed;
  nx_watch_t *open;
  pthread_t loop_thread;
  int fds[2];
  int i;
  memset(f, 0, sizeof(f));
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_start(&loop));
  loop_thread = t_loop_thread(loop);

  ASSERT_OK(nx_loop_execute(loop, t_noop_task, &f[EXECUTED], t_record_free));
  ASSERT_OK(nx_loop_submit(loop, submitted, &f[SUBMITTED], t_record_free, &future));
  ASSERT_OK(nx_loop_schedule(loop, 0, t_noop_task, &f[FIRED], t_record_free, NULL));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, &f[CANCELLED_TIMER], t_record_free,
                             &timer));
  ASSERT_OK(nx_loop_schedule_with_fixed_delay(loop, 0, 1, fail_second, &f[FAILED_PERIODIC],
                                              t_record_free, &periodic));
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_OK(nx_promise_add_listener(promise, ignore_listener, &f[LISTENED], t_record_free));
  ASSERT_EQ(nx_promise_try_success(promise, NULL, NULL), 1);
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, ignore_ready, &f[WATCH_CLOSED],
                             t_record_free, &closed));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[1], NX_OP_WRITE, ignore_ready, &f[WATCH_AT_SHUTDOWN],
                             t_record_free, &open));
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  ASSERT_OK(nx_promise_wait(periodic, T_LIMIT_MS));
  t_wait_for(&f[EXECUTED].count, 1);
  t_wait_for(&f[FIRED].count, 1);
  t_wait_for(&f[LISTENED].count, 1);
  t_wait_for(&f[FAILED_PERIODIC].count, 1);
  ASSERT_OK(nx_watch_close(closed));
  ASSERT_EQ(f[WATCH_CLOSED].count, 1);
  ASSERT(pthread_equal(f[WATCH_CLOSED].thread, pthread_self()));
  ASSERT_EQ(f[CANCELLED_TIMER].count, 0);
  ASSERT_EQ(f[WATCH_AT_SHUTDOWN].count, 0);

  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, &f[REJECTED], t_record_free), NX_EREJECTED);
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(nx_promise_is_cancelled(timer), 1);
  ASSERT_OK(nx_promise_free(future));
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_promise_free(periodic));
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_watch_free(closed));
  ASSERT_OK(nx_watch_free(open));
  ASSERT_OK(nx_loop_free(loop));

  for (i = 0; i < PATHS; i++) {
    if (i == REJECTED) {
      ASSERT_EQ(f[i].count, 0); /* a failed call frees nothing */
      continue;
    }
    ASSERT_EQ(f[i].count, 1);
    if (i != WATCH_CLOSED)
      ASSERT(pthread_equal(f[i].thread, loop_thread)); /* freed by the running loop */
  }
  close(fds[0]);
  close(fds[1]);
  return 0;
}

static void never_watch(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
  (void)attachment;
}

static void never_timer(nx_timer_t *timer, void *attachment) {
  (void)timer;
  (void)attachment;
}

static int never_callable(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                          void *attachment) {
  (void)loop;
  (void)value_out;
  (void)value_free_out;
  (void)attachment;
  return 0;
}

/* When no handle is left (-ENOMEM), a call that takes an attachment keeps nothing and frees
 * nothing, also where the handle is made after the attachment was looked at. */
TEST_IMPL(loop_attachment_kept_when_no_handle_is_left) {
  nx_loop_t *loop;
  nx_timer_t *timer = NULL;
  nx_watch_t *watch = NULL;
  nx_promise_t *future = NULL;
  struct t_freed freed;
  int fds[2];
  memset(&freed, 0, sizeof(freed));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_debug_handle_limit(nx_debug_live_handles()));
  ASSERT_EQ(nx_timer_new(loop, never_timer, &freed, t_record_free, &timer), -ENOMEM);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, never_watch, &freed, t_record_free,
                             &watch),
            -ENOMEM);
  ASSERT_EQ(nx_loop_schedule(loop, 1, t_noop_task, &freed, t_record_free, &future), -ENOMEM);
  ASSERT_EQ(nx_loop_submit(loop, never_callable, &freed, t_record_free, &future), -ENOMEM);
  ASSERT_EQ(nx_promise_new(loop, &future), -ENOMEM);
  ASSERT_OK(nx_debug_handle_limit(0));
  ASSERT_EQ(nx_debug_handle_limit((size_t)1 << 40), NX_EINVAL);
  ASSERT_EQ(freed.count, 0);
  ASSERT_PTR_EQ(timer, NULL);
  ASSERT_PTR_EQ(watch, NULL);
  ASSERT_PTR_EQ(future, NULL);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* nothing was queued or armed */
  ASSERT_EQ(freed.count, 0);
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}
