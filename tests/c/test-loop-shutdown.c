/* Shutdown: graceful with work still queued (drained; other threads rejected, the loop's own
 * thread accepted; pending timers cancelled), the quiet period and the deadline, shutdown now
 * (queued work dropped, attachments freed on the waiting thread), rejected work after
 * shutdown (NX_EREJECTED, attachment not freed), close, and waiting on the loop's own thread. */
#include "loop-helpers.h"

/* A task that holds the loop's thread until the test opens the gate. */
struct gate {
  int entered;
  int open;
  int queued_rc; /* what a task queued from the loop's own thread got */
  int late_ran;
};

static int gate_task(nx_loop_t *loop, void *arg) {
  struct gate *g = arg;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  t_store(&g->entered, 1);
  while (!t_load(&g->open) && t_now_ms() < deadline)
    t_sleep_ms(1);
  /* Shutting down by now: the loop's own thread may still queue work. */
  g->queued_rc = nx_loop_execute(loop, t_count_task, &g->late_ran, NULL);
  return 0;
}

TEST_IMPL(loop_shutdown_drains_queued_work) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  nx_promise_t *future = NULL;
  struct gate gate = {0, 0, 1, 0};
  struct t_freed queued = {0, 0};
  struct t_freed timer_freed = {0, 0};
  struct t_freed rejected = {0, 0};
  int ran = 0;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, &timer_freed, t_record_free, &timer));
  ASSERT_OK(nx_loop_execute(loop, gate_task, &gate, NULL));
  t_wait_for(&gate.entered, 1);
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &ran, NULL));
  ASSERT_OK(nx_loop_execute(loop, t_noop_task, &queued, t_record_free));
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_is_shutting_down(loop), 1);

  /* Other threads are refused from now on; the caller keeps its attachment. */
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, &rejected, t_record_free), NX_EREJECTED);
  ASSERT_EQ(nx_loop_schedule(loop, 0, t_noop_task, &rejected, t_record_free, &future),
            NX_EREJECTED);
  ASSERT_NULL(future);
  ASSERT_EQ(rejected.count, 0);

  t_store(&gate.open, 1);
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_EQ(ran, 1); /* queued work ran */
  ASSERT_EQ(queued.count, 1);
  ASSERT_OK(gate.queued_rc);
  ASSERT_EQ(gate.late_ran, 1);
  ASSERT_EQ(nx_promise_is_cancelled(timer), 1); /* the pending timer was cancelled */
  ASSERT_EQ(timer_freed.count, 1);
  ASSERT_EQ(rejected.count, 0);
  ASSERT_OK(nx_loop_await_termination(loop, 0)); /* again: at once */
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* Re-queues itself from the loop's own thread, pausing a little each time: a task always
 * queued keeps a quiet period from passing. */
struct busy {
  int runs;
};

static int busy_task(nx_loop_t *loop, void *arg) {
  struct busy *b = arg;
  t_store(&b->runs, b->runs + 1);
  t_sleep_ms(2);
  return nx_loop_execute(loop, busy_task, b, NULL);
}

TEST_IMPL(loop_shutdown_quiet_period) {
  nx_loop_t *loop;
  int64_t start;
  int64_t took;
  ASSERT_OK(nx_loop_start(&loop));
  start = t_now_ms();
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 300, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_await_termination(loop, 50), NX_ETIMEDOUT); /* still quiet-waiting */
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  took = t_now_ms() - start;
  ASSERT_GE(took, 300);
  ASSERT_LT(took, T_LIMIT_MS);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_shutdown_deadline) {
  nx_loop_t *loop;
  struct busy busy = {0};
  int64_t start;
  int64_t took;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_execute(loop, busy_task, &busy, NULL));
  t_wait_for(&busy.runs, 2);
  /* The quiet period never passes (the loop keeps queuing tasks from its own thread); the
   * deadline ends the draining. */
  start = t_now_ms();
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 60000, 300));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  took = t_now_ms() - start;
  ASSERT_GE(took, 300 - 5);
  ASSERT_LT(took, T_LIMIT_MS);
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(nx_loop_shutdown_gracefully(NULL, 0, 0), NX_EINVAL);
  return 0;
}

static int never_callable(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                          void *attachment);

TEST_IMPL(loop_shutdown_now_drops_queued_work) {
  nx_loop_t *loop;
  nx_promise_t *future;
  struct gate gate = {0, 0, 1, 0};
  struct t_freed dropped[3];
  int i;
  memset(dropped, 0, sizeof(dropped));
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_execute(loop, gate_task, &gate, NULL));
  t_wait_for(&gate.entered, 1);
  for (i = 0; i < 3; i++)
    ASSERT_OK(nx_loop_execute(loop, t_count_task, &dropped[i], t_record_free));
  ASSERT_OK(nx_loop_submit(loop, never_callable, NULL, NULL, &future));
  ASSERT_OK(nx_loop_shutdown_now(loop));
  t_store(&gate.open, 1);
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  /* The submitted task never ran: dropped here, it cancelled its future. */
  ASSERT_EQ(nx_promise_is_cancelled(future), 1);
  ASSERT_OK(nx_promise_free(future));
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(dropped[i].count, 1); /* never ran (count would be 2), freed once ... */
    ASSERT(pthread_equal(dropped[i].thread, pthread_self())); /* ... on the waiting thread */
  }
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static void never_ready(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
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

TEST_IMPL(loop_rejected_after_shutdown) {
  nx_loop_t *loop;
  nx_promise_t *future = NULL;
  nx_watch_t *watch = NULL;
  struct t_freed freed = {0, 0};
  int fds[2];
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, &freed, t_record_free), NX_EREJECTED);
  ASSERT_EQ(nx_loop_submit(loop, never_callable, &freed, t_record_free, &future),
            NX_EREJECTED);
  ASSERT_EQ(nx_loop_schedule(loop, 0, t_noop_task, &freed, t_record_free, &future),
            NX_EREJECTED);
  ASSERT_EQ(nx_loop_schedule_at_fixed_rate(loop, 0, 1, t_noop_task, &freed, t_record_free,
                                           &future),
            NX_EREJECTED);
  ASSERT_EQ(nx_loop_schedule_with_fixed_delay(loop, 0, 1, t_noop_task, &freed, t_record_free,
                                              &future),
            NX_EREJECTED);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, never_ready, &freed, t_record_free,
                             &watch),
            NX_EREJECTED);
  ASSERT_NULL(future);
  ASSERT_NULL(watch);
  ASSERT_EQ(freed.count, 0); /* the caller keeps every attachment */
  ASSERT_EQ(nx_loop_backend_fd(loop, &fds[0]), NX_ECLOSED);
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

TEST_IMPL(loop_close_caller_driven) {
  nx_loop_t *loop;
  struct t_freed dropped[2];
  int64_t timeout;
  memset(dropped, 0, sizeof(dropped));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &dropped[0], t_record_free));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_count_task, &dropped[1], t_record_free, NULL));
  /* Not running: it shuts down now, here. */
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_EQ(dropped[0].count, 1); /* never ran; freed once, on this thread */
  ASSERT_EQ(dropped[1].count, 1);
  ASSERT(pthread_equal(dropped[0].thread, pthread_self()));
  ASSERT_OK(nx_loop_close(loop)); /* idempotent */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), NX_ECLOSED);
  ASSERT_EQ(nx_loop_backend_timeout(loop, &timeout), NX_ECLOSED);
  ASSERT_OK(nx_loop_await_termination(loop, 0));
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(dropped[0].count, 1);
  return 0;
}

struct inside {
  int rc;
  int done;
};

static int await_inside(nx_loop_t *loop, void *arg) {
  struct inside *in = arg;
  in->rc = nx_loop_await_termination(loop, 1000);
  t_store(&in->done, 1);
  return 0;
}

TEST_IMPL(loop_await_on_own_thread) {
  nx_loop_t *loop;
  struct inside inside = {1, 0};
  /* The owner of a caller-driven loop finishes its shutdown by running it. */
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_await_termination(loop, 1000), NX_EDEADLK);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_OK(nx_loop_await_termination(loop, 1000));
  ASSERT_OK(nx_loop_free(loop));

  /* A library loop's own thread cannot wait for it: an error, never a hang. */
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_execute(loop, await_inside, &inside, NULL));
  t_wait_for(&inside.done, 1);
  ASSERT_EQ(inside.rc, NX_EDEADLK);
  t_stop_loop(loop);
  return 0;
}

/* NX_EREJECTED comes from a loop that is shutting down and from one that has terminated: its
 * text is right for both. */
TEST_IMPL(loop_rejected_text_covers_a_terminated_loop) {
  nx_loop_t *loop;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, NULL, NULL), NX_EREJECTED);
  ASSERT_NOT_NULL(strstr(nx_strerror(NX_EREJECTED), "terminated"));
  ASSERT_NOT_NULL(strstr(nx_strerror(NX_EREJECTED), "shutting down"));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
