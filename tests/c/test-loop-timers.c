/* Timers: deadline order and never early (CLOCK_MONOTONIC), cancel before and after firing,
 * fixed rate, fixed delay, a failing periodic task, and bad arguments. */
#include "loop-helpers.h"

struct stamp {
  int index;
  int64_t delay_ms;
  int64_t scheduled_at;
  int64_t ran_at;
  int *order;
  int *count;
};

static int stamp_task(nx_loop_t *loop, void *arg) {
  struct stamp *s = arg;
  (void)loop;
  s->ran_at = t_now_ms();
  s->order[(*s->count)++] = s->index;
  return 0;
}

TEST_IMPL(loop_timer_order_never_early) {
  /* They fire in the order of their deadlines, each taken when it was scheduled (checked
   * against the clock read around each call: on a slow run, valgrind on a busy machine,
   * scheduling can take longer than the gaps); equal delays fire in scheduling order. */
  static const int64_t delays[] = {150, 50, 100, 50, 0, 1};
  enum { N = sizeof(delays) / sizeof(delays[0]) };
  struct stamp stamps[N];
  int64_t scheduled_after[N];
  int position[N];
  int order[N];
  int count = 0;
  nx_loop_t *loop;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  for (i = 0; i < N; i++) {
    stamps[i].index = i;
    stamps[i].delay_ms = delays[i];
    stamps[i].order = order;
    stamps[i].count = &count;
    stamps[i].scheduled_at = t_now_ms();
    ASSERT_OK(nx_loop_schedule(loop, delays[i], stamp_task, &stamps[i], NULL, NULL));
    scheduled_after[i] = t_now_ms();
  }
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(count, N);
  for (i = 0; i < N; i++) {
    position[order[i]] = i;
    ASSERT_GE(stamps[i].ran_at - stamps[i].scheduled_at, stamps[i].delay_ms);
  }
  for (i = 1; i < N; i++) /* 1 ms of slack: the clock is read at millisecond resolution */
    ASSERT_LE(stamps[order[i - 1]].scheduled_at + delays[order[i - 1]],
              scheduled_after[order[i]] + delays[order[i]] + 1);
  ASSERT_LT(position[1], position[3]); /* equal delays: in scheduling order */
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TIMERS_FIRED), N);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_timer_cancel_before_fire) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  nx_promise_t *keeper;
  struct t_freed freed = {0, 0};
  int ran = 0;
  int cause = 0;
  void *value = NULL;
  int64_t start = t_now_ms();
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 1000, t_noop_task, &freed, t_record_free, &timer));
  ASSERT_EQ(nx_promise_cancel(timer), 1); /* won: it never runs */
  ASSERT_EQ(nx_promise_cancel(timer), 0);
  ASSERT_EQ(nx_promise_is_cancelled(timer), 1);
  ASSERT_EQ(nx_promise_is_done(timer), 1);
  ASSERT_OK(nx_promise_cause(timer, &cause));
  ASSERT_EQ(cause, NX_ECANCELLED);
  ASSERT_EQ(nx_promise_value(timer, &value), NX_ECANCELLED);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* its ref went with it */
  ASSERT_LT(t_now_ms() - start, 1000);

  /* Past its deadline the loop releases the cancelled task's attachment, on its thread,
   * though the future is still held. */
  ASSERT_OK(nx_loop_schedule(loop, 1100, t_count_task, &ran, NULL, &keeper));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(ran, 1);
  ASSERT_EQ(freed.count, 1);
  ASSERT(pthread_equal(freed.thread, pthread_self()));
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TIMERS_FIRED), 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_promise_free(keeper));
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(freed.count, 1);
  return 0;
}

TEST_IMPL(loop_timer_cancel_after_fire) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct t_freed freed = {0, 0};
  void *value = (void *)1;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 0, t_noop_task, &freed, t_record_free, &timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(freed.count, 1); /* after the run, on the loop's thread */
  ASSERT_EQ(nx_promise_cancel(timer), 0); /* lost */
  ASSERT_EQ(nx_promise_is_success(timer), 1);
  ASSERT_EQ(nx_promise_is_cancelled(timer), 0);
  ASSERT_OK(nx_promise_value(timer, &value));
  ASSERT_NULL(value);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

#define RUNS 5

struct periodic {
  int64_t start[RUNS + 1];
  int64_t end[RUNS + 1];
  int runs;
  int work_ms;
  int fail_at; /* the run (1-based) that fails, 0 for none */
};

static int periodic_task(nx_loop_t *loop, void *arg) {
  struct periodic *p = arg;
  int run = p->runs;
  if (run > RUNS) { /* more runs than the test stops at: counted, not recorded */
    p->runs++;
    return 0;
  }
  p->start[run] = t_now_ms();
  if (p->work_ms > 0)
    t_sleep_ms(p->work_ms);
  p->end[run] = t_now_ms();
  p->runs++;
  if (p->fail_at != 0 && p->runs == p->fail_at)
    return -EIO;
  if (p->fail_at == 0 && p->runs == RUNS)
    return nx_loop_stop(loop);
  return 0;
}

TEST_IMPL(loop_timer_fixed_rate) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct periodic p;
  struct t_freed freed = {0, 0};
  int64_t first;
  int i;
  int runs;
  memset(&p, 0, sizeof(p));
  ASSERT_OK(nx_loop_new(&loop));
  first = t_now_ms() + 10;
  ASSERT_OK(nx_loop_schedule_at_fixed_rate(loop, 10, 30, periodic_task, &p, NULL, &timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1); /* stopped by the fifth run */
  /* A stop ends the run after the current turn: a sixth run due by the turn's second timer
   * phase (a run slowed down, under valgrind) still happens in it. */
  ASSERT_GE(p.runs, RUNS);
  ASSERT_LE(p.runs, RUNS + 1);
  for (i = 0; i < RUNS; i++)
    ASSERT_GE(p.start[i], first + 30 * i); /* never early, no drift */
  ASSERT_EQ(nx_promise_is_done(timer), 0); /* a periodic future never succeeds */
  runs = p.runs;
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(p.runs, runs); /* no run after the cancel */
  ASSERT_OK(nx_promise_free(timer));

  /* Freed after the last run: here, at the cancelled timer's deadline on the loop. */
  ASSERT_OK(nx_loop_schedule_at_fixed_rate(loop, 0, 10, t_noop_task, &freed, t_record_free,
                                           &timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_EQ(freed.count, 0);
  ASSERT_OK(nx_loop_schedule(loop, 50, t_noop_task, NULL, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(freed.count, 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(freed.count, 1);
  return 0;
}

TEST_IMPL(loop_timer_fixed_delay) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct periodic p;
  int i;
  memset(&p, 0, sizeof(p));
  p.work_ms = 10;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule_with_fixed_delay(loop, 0, 25, periodic_task, &p, NULL, &timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1);
  ASSERT_EQ(p.runs, RUNS);
  for (i = 1; i < RUNS; i++)
    ASSERT_GE(p.start[i] - p.end[i - 1], 25); /* the delay counts from the end of a run */
  ASSERT_EQ(nx_promise_cancel(timer), 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_timer_periodic_failure) {
  nx_loop_t *loop;
  nx_promise_t *rate;
  nx_promise_t *delay;
  struct periodic a;
  struct periodic b;
  int cause = 0;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.fail_at = 3;
  b.fail_at = 2;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule_at_fixed_rate(loop, 0, 5, periodic_task, &a, NULL, &rate));
  ASSERT_OK(nx_loop_schedule_with_fixed_delay(loop, 0, 5, periodic_task, &b, NULL, &delay));
  /* A failing run stops the repetition: nothing is left afterwards. */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(a.runs, 3);
  ASSERT_EQ(b.runs, 2);
  ASSERT_OK(nx_promise_cause(rate, &cause));
  ASSERT_EQ(cause, -EIO);
  ASSERT_OK(nx_promise_cause(delay, &cause));
  ASSERT_EQ(cause, -EIO);
  ASSERT_EQ(nx_promise_cancel(delay), 0);
  ASSERT_OK(nx_promise_free(rate));
  ASSERT_OK(nx_promise_free(delay));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_timer_arguments) {
  nx_loop_t *loop;
  nx_promise_t *timer = NULL;
  struct t_freed freed = {0, 0};
  int ran = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_EQ(nx_loop_schedule(loop, 0, NULL, &freed, t_record_free, &timer), NX_EINVAL);
  ASSERT_EQ(nx_loop_schedule_at_fixed_rate(loop, 0, 0, t_noop_task, &freed, t_record_free,
                                           &timer),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_schedule_with_fixed_delay(loop, 0, -1, t_noop_task, &freed,
                                              t_record_free, &timer),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_schedule(NULL, 0, t_noop_task, &freed, t_record_free, &timer), NX_EINVAL);
  ASSERT_NULL(timer); /* unchanged on error */
  ASSERT_EQ(freed.count, 0); /* nothing kept, nothing freed */
  /* A negative delay is 0 (Java's rule). */
  ASSERT_OK(nx_loop_schedule(loop, -1000, t_count_task, &ran, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0);
  ASSERT_EQ(ran, 1);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* A periodic task that takes longer than its period. */
static int slow_task(nx_loop_t *loop, void *runs) {
  (void)loop;
  (*(int *)runs)++;
  t_sleep_ms(3);
  return 0;
}

/* A fixed-rate task slower than its period catches up one run per timer phase (two per
 * turn), so its backlog never piles up inside one turn. */
TEST_IMPL(loop_timer_fixed_rate_backlog) {
  nx_loop_t *loop;
  nx_promise_t *periodic;
  int runs = 0, before, turn;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule_at_fixed_rate(loop, 0, 1, slow_task, &runs, NULL, &periodic));
  t_sleep_ms(5);
  for (turn = 0; turn < 6; turn++) {
    before = runs;
    ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
    ASSERT_LE(runs - before, 2);
  }
  ASSERT_EQ(nx_promise_cancel(periodic), 1);
  ASSERT_OK(nx_promise_free(periodic));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
