/* Handle misuse on loops, groups, promises and watches: NULL and a handle of another type are
 * NX_EINVAL, a freed handle NX_EBADHANDLE (also a second free); never a crash. */
#include "loop-helpers.h"

static void on_ready(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
  (void)attachment;
}

TEST_IMPL(loop_handle_null) {
  nx_loop_t *loop = NULL;
  nx_promise_t *promise = NULL;
  int64_t ms;
  int fd;
  uint64_t value;
  uint32_t ops;
  int cause;
  void *got;
  ASSERT_EQ(nx_loop_new(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_start(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_run(NULL, NX_RUN_NOWAIT), NX_EINVAL);
  ASSERT_EQ(nx_loop_stop(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_backend_fd(NULL, &fd), NX_EINVAL);
  ASSERT_EQ(nx_loop_backend_timeout(NULL, &ms), NX_EINVAL);
  ASSERT_EQ(nx_loop_in_event_loop(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_now(NULL, &ms), NX_EINVAL);
  ASSERT_EQ(nx_loop_counter(NULL, NX_LOOP_COUNTER_TURNS, &value), NX_EINVAL);
  ASSERT_EQ(nx_loop_execute(NULL, t_noop_task, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_shutdown_now(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_await_termination(NULL, 0), NX_EINVAL);
  ASSERT_EQ(nx_loop_close(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_new(1, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_next(NULL, &loop), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_new(NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_try_success(NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_cancel(NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_cause(NULL, &cause), NX_EINVAL);
  ASSERT_EQ(nx_promise_value(NULL, &got), NX_EINVAL);
  ASSERT_EQ(nx_promise_wait(NULL, 0), NX_EINVAL);
  ASSERT_EQ(nx_promise_free(NULL), NX_EINVAL);
  ASSERT_EQ(nx_watch_interest(NULL, &ops), NX_EINVAL);
  ASSERT_EQ(nx_watch_close(NULL), NX_EINVAL);
  ASSERT_EQ(nx_watch_free(NULL), NX_EINVAL);

  /* NULL out-parameters of live handles. */
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_EQ(nx_loop_backend_fd(loop, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_backend_timeout(loop, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_now(loop, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_execute(loop, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_loop_submit(loop, NULL, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_cause(promise, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_value(promise, NULL), NX_EINVAL);
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_handle_wrong_type) {
  nx_loop_t *loop;
  nx_loop_group_t *group;
  nx_promise_t *promise;
  nx_selector_t *selector;
  nx_watch_t *watch;
  int fds[2];
  int cause;
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_OK(nx_selector_open(&selector));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, NULL, NULL, &watch));

  ASSERT_EQ(nx_loop_run((nx_loop_t *)selector, NX_RUN_NOWAIT), NX_EINVAL);
  ASSERT_EQ(nx_loop_run((nx_loop_t *)promise, NX_RUN_NOWAIT), NX_EINVAL);
  ASSERT_EQ(nx_loop_run((nx_loop_t *)group, NX_RUN_NOWAIT), NX_EINVAL);
  ASSERT_EQ(nx_loop_free((nx_loop_t *)watch), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_free((nx_loop_group_t *)loop), NX_EINVAL);
  ASSERT_EQ(nx_promise_cause((nx_promise_t *)loop, &cause), NX_EINVAL);
  ASSERT_EQ(nx_promise_free((nx_promise_t *)watch), NX_EINVAL);
  ASSERT_EQ(nx_watch_free((nx_watch_t *)promise), NX_EINVAL);
  ASSERT_EQ(nx_selector_free((nx_selector_t *)loop), NX_EINVAL);
  ASSERT_EQ(nx_promise_new((nx_loop_t *)selector, &promise), NX_EINVAL);
  /* Each still works after the misuse. */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_OK(nx_selector_free(selector));
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

TEST_IMPL(loop_handle_after_free) {
  nx_loop_t *loop;
  nx_loop_t *started;
  nx_loop_t *member;
  nx_loop_group_t *group;
  nx_promise_t *promise;
  nx_watch_t *watch;
  int fds[2];
  int cause;
  uint32_t ops;
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_start(&started));
  ASSERT_OK(nx_loop_group_new(1, &group));
  ASSERT_OK(nx_loop_group_next(group, &member));
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, NULL, NULL, &watch));

  ASSERT_OK(nx_watch_free(watch));
  ASSERT_EQ(nx_watch_interest(watch, &ops), NX_EBADHANDLE);
  ASSERT_EQ(nx_watch_close(watch), NX_EBADHANDLE);
  ASSERT_EQ(nx_watch_free(watch), NX_EBADHANDLE);
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_EQ(nx_promise_cause(promise, &cause), NX_EBADHANDLE);
  ASSERT_EQ(nx_promise_free(promise), NX_EBADHANDLE);
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, NULL, NULL), NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_close(loop), NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_free(loop), NX_EBADHANDLE);
  ASSERT_OK(nx_loop_free(started)); /* shuts down, joins */
  ASSERT_EQ(nx_loop_execute(started, t_noop_task, NULL, NULL), NX_EBADHANDLE);
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_EQ(nx_loop_execute(member, t_noop_task, NULL, NULL), NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_group_next(group, &member), NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_group_free(group), NX_EBADHANDLE);
  close(fds[0]);
  close(fds[1]);
  return 0;
}
