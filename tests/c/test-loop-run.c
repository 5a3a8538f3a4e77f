/* Running a caller-driven loop: the three run modes, ref/unref, stop (also before the run),
 * re-entrant runs, the owner thread, the clock and the counters. */
#include "loop-helpers.h"

/* Time for a one-turn call that must not block; generous for valgrind. */
#define T_QUICK_MS 250

TEST_IMPL(loop_run_modes) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  int fired = 0;
  int64_t start;
  int64_t elapsed;
  int rc;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* nothing referenced: returns at once */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0);
  ASSERT_EQ(nx_loop_run(loop, 3), NX_EINVAL);
  ASSERT_EQ(nx_loop_run(loop, -1), NX_EINVAL);

  start = t_now_ms();
  ASSERT_OK(nx_loop_schedule(loop, 400, t_count_task, &fired, NULL, &timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1); /* the timer is left */
  ASSERT_LT(t_now_ms() - start, T_QUICK_MS);
  ASSERT_EQ(fired, 0);

  /* NX_RUN_ONCE blocks for the timer (one turn; a turn may end a hair early). */
  do {
    ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
    rc = nx_loop_run(loop, NX_RUN_ONCE);
    ASSERT_GE(rc, 0);
  } while (!fired);
  elapsed = t_now_ms() - start;
  ASSERT_GE(elapsed, 400);
  ASSERT_EQ(rc, 0); /* the fired timer released its ref: nothing is left */
  ASSERT_EQ(nx_promise_is_success(timer), 1);
  ASSERT_OK(nx_promise_free(timer));

  /* NX_RUN_DEFAULT runs until nothing referenced is left. */
  ASSERT_OK(nx_loop_schedule(loop, 10, t_count_task, &fired, NULL, NULL));
  ASSERT_OK(nx_loop_schedule(loop, 30, t_count_task, &fired, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(fired, 3);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_run_stop_before_run) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  int fired = 0;
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_count_task, &fired, NULL, &timer));
  ASSERT_OK(nx_loop_stop(loop));
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1); /* one turn, the timer still there */
  ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
  ASSERT_EQ(fired, 0);
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static int stop_task(nx_loop_t *loop, void *ran) {
  *(int *)ran = 1;
  return nx_loop_stop(loop);
}

TEST_IMPL(loop_run_stop_from_task) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  int ran = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, NULL, NULL, &timer));
  ASSERT_OK(nx_loop_schedule(loop, 20, stop_task, &ran, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1); /* stopped with the long timer left */
  ASSERT_EQ(ran, 1);
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static void ignore_ready(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
  (void)attachment;
}

TEST_IMPL(loop_run_ref_unref) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  nx_promise_t *plain;
  nx_watch_t *watch;
  int fds[2];
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));

  /* An unref'd timer does not keep a default run going. */
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, NULL, NULL, &timer));
  ASSERT_EQ(nx_promise_has_ref(timer), 1);
  ASSERT_OK(nx_promise_set_ref(timer, 0));
  ASSERT_EQ(nx_promise_has_ref(timer), 0);
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
  ASSERT_OK(nx_promise_set_ref(timer, 1));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(nx_promise_cancel(timer), 1); /* a cancelled timer releases its ref */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_promise_free(timer));

  /* Only a timer's future has a ref. */
  ASSERT_OK(nx_promise_new(loop, &plain));
  ASSERT_EQ(nx_promise_set_ref(plain, 0), NX_EINVAL);
  ASSERT_EQ(nx_promise_has_ref(plain), NX_EINVAL);
  ASSERT_OK(nx_promise_free(plain));

  /* The same for a watch. */
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, ignore_ready, NULL, NULL, &watch));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(nx_watch_has_ref(watch), 1);
  ASSERT_OK(nx_watch_set_ref(watch, 0));
  ASSERT_EQ(nx_watch_has_ref(watch), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_watch_set_ref(watch, 1));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_OK(nx_watch_close(watch)); /* a closed watch releases its ref */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_watch_free(watch));
  close(fds[0]);
  close(fds[1]);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static int run_inside(nx_loop_t *loop, void *rc) {
  *(int *)rc = nx_loop_run(loop, NX_RUN_NOWAIT);
  return 0;
}

TEST_IMPL(loop_run_reentrant_or_library_driven) {
  nx_loop_t *loop;
  nx_loop_t *started;
  int rc = 0, stopped = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, run_inside, &rc, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(rc, NX_EBUSY);
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), NX_ECLOSED);
  ASSERT_OK(nx_loop_free(loop));

  ASSERT_OK(nx_loop_start(&started));
  ASSERT_EQ(nx_loop_run(started, NX_RUN_NOWAIT), NX_EBUSY);
  ASSERT_EQ(nx_loop_run(started, NX_RUN_DEFAULT), NX_EBUSY);
  /* nx_loop_stop has no effect on it, from its own thread or another: it goes on running. */
  ASSERT_OK(nx_loop_execute(started, stop_task, &stopped, NULL));
  ASSERT_OK(nx_loop_stop(started));
  t_sleep_ms(50);
  rc = 0;
  ASSERT_OK(nx_loop_execute(started, t_count_task, &rc, NULL));
  t_wait_for(&rc, 1);
  ASSERT_EQ(stopped, 1);
  t_stop_loop(started);
  return 0;
}

struct owner_check {
  nx_loop_t *loop;
  int answer;
};

static void *ask_in_event_loop(void *arg) {
  struct owner_check *c = arg;
  c->answer = nx_loop_in_event_loop(c->loop);
  return NULL;
}

static int in_loop_task(nx_loop_t *loop, void *answer) {
  *(int *)answer = nx_loop_in_event_loop(loop);
  return 0;
}

TEST_IMPL(loop_run_owner_thread) {
  nx_loop_t *loop;
  nx_loop_t *started;
  struct owner_check check;
  pthread_t thread;
  int answer = -1;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_EQ(nx_loop_in_event_loop(loop), 1); /* the creating thread owns it */
  check.loop = loop;
  check.answer = -1;
  ASSERT_OK(pthread_create(&thread, NULL, ask_in_event_loop, &check));
  ASSERT_OK(pthread_join(thread, NULL));
  ASSERT_EQ(check.answer, 0);
  ASSERT_OK(nx_loop_free(loop));

  ASSERT_OK(nx_loop_start(&started));
  ASSERT_EQ(nx_loop_in_event_loop(started), 0);
  ASSERT_OK(nx_loop_execute(started, in_loop_task, &answer, NULL));
  t_wait_for(&answer, 0);
  ASSERT_EQ(t_load(&answer), 1);
  t_stop_loop(started);
  return 0;
}

TEST_IMPL(loop_run_clock_and_counters) {
  nx_loop_t *loop;
  int64_t before;
  int64_t after;
  int64_t start;
  int ran = 0;
  uint64_t value = 7;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  start = t_now_ms();
  ASSERT_OK(nx_loop_now(loop, &before));
  ASSERT_GE(before, 0);
  t_sleep_ms(30);
  ASSERT_OK(nx_loop_now(loop, &after));
  /* The loop's interval lies within the test's; both clocks count whole milliseconds, so
   * each difference may be off by one. */
  ASSERT_GE(after - before, 30 - 1);
  ASSERT_LE(after - before, t_now_ms() - start + 2);

  for (i = 0; i < 5; i++)
    ASSERT_OK(nx_loop_execute(loop, t_count_task, &ran, NULL));
  ASSERT_OK(nx_loop_schedule(loop, 0, t_count_task, &ran, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(ran, 6);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASKS_RUN), 5);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TIMERS_FIRED), 1);
  ASSERT_GE(t_loop_counter(loop, NX_LOOP_COUNTER_TURNS), 1);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_EVENTS), 0);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_PANICS), 0);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASK_ERRORS), 0);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS), 0);
  (void)t_loop_counter(loop, NX_LOOP_COUNTER_WAIT_NS);
  ASSERT_EQ(nx_loop_counter(loop, 0, &value), NX_EINVAL);
  /* The backend's system calls: no channel was ever registered (the one epoll_ctl at most is
   * the wake-up eventfd's). */
  ASSERT_LE(t_loop_counter(loop, NX_LOOP_COUNTER_EPOLL_CTLS), 1);
  ASSERT_LE(t_loop_counter(loop, NX_LOOP_COUNTER_EMPTY_WAITS),
            t_loop_counter(loop, NX_LOOP_COUNTER_EPOLL_WAITS));
  (void)t_loop_counter(loop, NX_LOOP_COUNTER_BACKEND_EVENTS);
  ASSERT_EQ(nx_loop_counter(loop, 13, &value), NX_EINVAL);
  ASSERT_EQ(nx_loop_counter(loop, NX_LOOP_COUNTER_TURNS, NULL), NX_EINVAL);
  ASSERT_EQ(value, 7); /* unchanged on error */
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* NX_RUN_ONCE with nothing referenced returns at once (libuv's uv_run), and
 * nx_loop_is_alive says whether anything is. */
TEST_IMPL(loop_run_once_not_alive) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  int ran = 0;
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_EQ(nx_loop_is_alive(loop), 0);
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 0);
  ASSERT_LT(t_now_ms() - start, T_QUICK_MS);

  ASSERT_OK(nx_loop_schedule(loop, 60000, t_count_task, &ran, NULL, &timer));
  ASSERT_EQ(nx_loop_is_alive(loop), 1);
  ASSERT_OK(nx_promise_set_ref(timer, 0));
  ASSERT_EQ(nx_loop_is_alive(loop), 0);
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 0);
  ASSERT_LT(t_now_ms() - start, T_QUICK_MS);

  /* A task keeps it alive until it ran; the turn that runs it does not block after. */
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &ran, NULL));
  ASSERT_EQ(nx_loop_is_alive(loop), 1);
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 0);
  ASSERT_LT(t_now_ms() - start, T_QUICK_MS);
  ASSERT_EQ(ran, 1);
  ASSERT_EQ(nx_loop_is_alive(loop), 0);
  ASSERT_EQ(nx_loop_is_alive(NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
