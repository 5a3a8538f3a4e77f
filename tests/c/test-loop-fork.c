/* fork(): loops, groups, promises and watches made before the fork answer NX_EFORKED in the
 * child, which may free them (without waiting for threads that do not exist there, and
 * without touching the parent's epoll sets) and make new ones; the parent's go on working. */
#include "loop-helpers.h"

static nx_loop_t *g_loop;
static nx_loop_t *g_started;
static nx_loop_group_t *g_group;
static nx_promise_t *g_promise;
static nx_watch_t *g_watch;
static int g_ready;

static void on_ready(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
  __atomic_fetch_add((int *)attachment, 1, __ATOMIC_SEQ_CST);
}

static int child_refuses_then_frees(void) {
  nx_loop_t *fresh;
  nx_loop_t *next;
  nx_promise_t *promise;
  int64_t now;
  int fd;
  uint32_t ops;
  int ran = 0;
  ASSERT_EQ(nx_loop_run(g_loop, NX_RUN_NOWAIT), NX_EFORKED);
  ASSERT_EQ(nx_loop_execute(g_loop, t_count_task, &ran, NULL), NX_EFORKED);
  ASSERT_EQ(nx_loop_execute(g_started, t_count_task, &ran, NULL), NX_EFORKED);
  ASSERT_EQ(nx_loop_schedule(g_started, 0, t_count_task, &ran, NULL, NULL), NX_EFORKED);
  ASSERT_EQ(nx_loop_now(g_loop, &now), NX_EFORKED);
  ASSERT_EQ(nx_loop_backend_fd(g_loop, &fd), NX_EFORKED);
  ASSERT_EQ(nx_loop_await_termination(g_started, 0), NX_EFORKED);
  ASSERT_EQ(nx_loop_group_next(g_group, &next), NX_EFORKED);
  ASSERT_EQ(nx_loop_group_execute(g_group, t_count_task, &ran, NULL), NX_EFORKED);
  ASSERT_EQ(nx_promise_is_done(g_promise), NX_EFORKED);
  ASSERT_EQ(nx_promise_try_success(g_promise, NULL, NULL), NX_EFORKED);
  ASSERT_EQ(nx_promise_new(g_loop, &promise), NX_EFORKED);
  ASSERT_EQ(nx_watch_interest(g_watch, &ops), NX_EFORKED);
  ASSERT_OK(nx_loop_close(g_started)); /* close is allowed, and does nothing here */
  ASSERT_OK(nx_watch_close(g_watch));
  /* New objects work in the child. */
  ASSERT_OK(nx_loop_new(&fresh));
  ASSERT_OK(nx_loop_execute(fresh, t_count_task, &ran, NULL));
  ASSERT_EQ(nx_loop_run(fresh, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(ran, 1);
  ASSERT_OK(nx_loop_free(fresh));
  /* Freeing the parent's objects here is allowed, and leaves the parent alone. */
  ASSERT_OK(nx_watch_free(g_watch));
  ASSERT_OK(nx_promise_free(g_promise));
  ASSERT_OK(nx_loop_free(g_loop));
  ASSERT_OK(nx_loop_free(g_started)); /* its thread does not exist here: no wait */
  ASSERT_OK(nx_loop_group_free(g_group));
  return 0;
}

TEST_IMPL(loop_fork_child) {
  int fds[2];
  int ran = 0;
  char byte = 'x';
  nx_promise_t *future;
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_new(&g_loop));
  ASSERT_OK(nx_loop_start(&g_started));
  ASSERT_OK(nx_loop_group_new(2, &g_group));
  ASSERT_OK(nx_promise_new(g_loop, &g_promise));
  ASSERT_OK(nx_loop_watch_fd(g_loop, fds[0], NX_OP_READ, on_ready, &g_ready, NULL, &g_watch));
  ASSERT_EQ(nx_loop_run(g_loop, NX_RUN_NOWAIT), 1);

  ASSERT_OK(t_in_child(child_refuses_then_frees));

  /* The parent: everything still works. */
  ASSERT_EQ(write(fds[1], &byte, 1), 1);
  t_run_until(g_loop, &g_ready);
  ASSERT_OK(nx_loop_execute(g_started, t_count_task, &ran, NULL));
  ASSERT_OK(nx_loop_group_execute(g_group, t_count_task, &ran, NULL));
  t_wait_for(&ran, 2);
  ASSERT_OK(nx_loop_submit(g_started, t_thread_task, NULL, NULL, &future));
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  ASSERT_OK(nx_promise_free(future));
  ASSERT_EQ(nx_promise_try_success(g_promise, NULL, NULL), 1);
  ASSERT_OK(nx_watch_free(g_watch));
  ASSERT_OK(nx_promise_free(g_promise));
  ASSERT_OK(nx_loop_free(g_loop));
  t_stop_loop(g_started);
  ASSERT_OK(nx_loop_group_free(g_group));
  close(fds[0]);
  close(fds[1]);
  return 0;
}
