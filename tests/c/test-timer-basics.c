/* Reusable timers (nx_timer_*, libuv's uv_timer_t): deadline order with scheduled tasks and
 * never early (CLOCK_MONOTONIC), restart, stop before firing, repeat, again, a callback that
 * restarts or stops its own timer, and ref/unref with NX_RUN_DEFAULT. */
#include "loop-helpers.h"

/* What a timer's callback records. */
struct shot {
  nx_timer_t *timer; /* the handle the callback must get */
  int index;
  int64_t started_at;
  int64_t ran_at[8];
  int runs;
  int *order; /* when set, the callback appends index at order[*count] */
  int *count;
  int stop_after; /* stops its own timer at this run (0: never) */
  int restart_until; /* restarts its own timer (10 ms) while runs < this */
  int active_in_callback; /* nx_timer_is_active seen by the last run */
  int same_handle;
};

static void on_shot(nx_timer_t *timer, void *arg) {
  struct shot *s = arg;
  if (timer != s->timer)
    s->same_handle = 0;
  s->active_in_callback = nx_timer_is_active(timer);
  if (s->runs < 8)
    s->ran_at[s->runs] = t_now_ms();
  s->runs++;
  if (s->order != NULL)
    s->order[(*s->count)++] = s->index;
  if (s->stop_after != 0 && s->runs == s->stop_after)
    ASSERT_OK(nx_timer_stop(timer));
  if (s->runs < s->restart_until)
    ASSERT_OK(nx_timer_start(timer, 10, 0));
}

static void shot_init(struct shot *s, int index) {
  memset(s, 0, sizeof(*s));
  s->index = index;
  s->same_handle = 1;
}

static nx_timer_t *shot_timer(nx_loop_t *loop, struct shot *s) {
  ASSERT_OK(nx_timer_new(loop, on_shot, s, NULL, &s->timer));
  return s->timer;
}

/* A scheduled task that appends its index like on_shot. */
static int order_task(nx_loop_t *loop, void *arg) {
  struct shot *s = arg;
  (void)loop;
  s->ran_at[0] = t_now_ms();
  s->runs++;
  s->order[(*s->count)++] = s->index;
  return 0;
}

TEST_IMPL(timer_order_never_early) {
  /* Timers 0-3 and scheduled tasks 4-5, 50 ms apart. They fire in the order of their deadlines,
   * each taken when it was started: on a slow run (valgrind on a busy machine) starting them can
   * take longer than the gaps, so the order is checked against the deadlines, not the delays. */
  static const int64_t delays[] = {300, 100, 0, 200, 150, 250};
  enum { N = sizeof(delays) / sizeof(delays[0]), TIMERS = 4 };
  struct shot shots[N];
  int order[N];
  int64_t started_after[N]; /* a deadline lies between started_at and this, plus the delay */
  int count = 0;
  nx_loop_t *loop;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  for (i = 0; i < N; i++) {
    shot_init(&shots[i], i);
    shots[i].order = order;
    shots[i].count = &count;
    shots[i].started_at = t_now_ms();
    if (i < TIMERS) {
      shot_timer(loop, &shots[i]);
      ASSERT_OK(nx_timer_start(shots[i].timer, delays[i], 0));
    } else {
      ASSERT_OK(nx_loop_schedule(loop, delays[i], order_task, &shots[i], NULL, NULL));
    }
    started_after[i] = t_now_ms();
  }
  ASSERT_EQ(count, 0); /* no callback inside a start */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(count, N);
  for (i = 1; i < N; i++) {
    /* The earliest the one that fired first was due, against the latest the next one was due
     * (the clock is read around each start, at millisecond resolution: 1 ms of slack). */
    int64_t before = shots[order[i - 1]].started_at + delays[order[i - 1]];
    int64_t after = started_after[order[i]] + delays[order[i]];
    ASSERT_LE(before, after + 1);
  }
  for (i = 0; i < N; i++) {
    ASSERT_EQ(shots[i].runs, 1);
    ASSERT_GE(shots[i].ran_at[0] - shots[i].started_at, delays[i]);
  }
  for (i = 0; i < TIMERS; i++) {
    ASSERT_EQ(shots[i].same_handle, 1);
    ASSERT_EQ(shots[i].active_in_callback, 0); /* a one-shot is stopped before its callback */
    ASSERT_EQ(nx_timer_is_active(shots[i].timer), 0);
    ASSERT_OK(nx_timer_free(shots[i].timer));
  }
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TIMERS_FIRED), N);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_restart_and_due_in) {
  struct shot s;
  nx_loop_t *loop;
  int64_t due = 0;
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  shot_timer(loop, &s);
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_EQ(due, -1);
  ASSERT_OK(nx_timer_start(s.timer, 60000, 0));
  ASSERT_EQ(nx_timer_is_active(s.timer), 1);
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_GT(due, 59000);
  ASSERT_LE(due, 60000);

  /* A restart moves the deadline earlier... */
  start = t_now_ms();
  ASSERT_OK(nx_timer_start(s.timer, 30, 0));
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_LE(due, 30);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 1);
  ASSERT_GE(s.ran_at[0] - start, 30);
  ASSERT_LT(s.ran_at[0] - start, 30000);

  /* ...or later; a negative timeout is 0. */
  start = t_now_ms();
  ASSERT_OK(nx_timer_start(s.timer, -5, 0));
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_EQ(due, 0);
  ASSERT_OK(nx_timer_start(s.timer, 60, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 2);
  ASSERT_GE(s.ran_at[1] - start, 60);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_stop_before_fire) {
  struct shot s;
  nx_loop_t *loop;
  int64_t start = t_now_ms();
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  shot_timer(loop, &s);
  ASSERT_OK(nx_timer_stop(s.timer)); /* stopping a stopped timer does nothing */
  ASSERT_OK(nx_timer_start(s.timer, 1000, 0));
  ASSERT_OK(nx_timer_stop(s.timer));
  ASSERT_OK(nx_timer_stop(s.timer));
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* nothing referenced is left */
  ASSERT_LT(t_now_ms() - start, 1000);

  /* Past the stopped deadline, with the loop running for something else: still nothing. */
  ASSERT_OK(nx_timer_start(s.timer, 20, 0));
  ASSERT_OK(nx_timer_stop(s.timer));
  ASSERT_OK(nx_loop_schedule(loop, 60, t_noop_task, NULL, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 0);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TIMERS_FIRED), 1);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_repeat_stops_from_its_callback) {
  struct shot s;
  nx_loop_t *loop;
  int64_t repeat = 0;
  int64_t start;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  s.stop_after = 5;
  shot_timer(loop, &s);
  start = t_now_ms();
  ASSERT_OK(nx_timer_start(s.timer, 10, 20));
  ASSERT_OK(nx_timer_repeat(s.timer, &repeat));
  ASSERT_EQ(repeat, 20);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* ends when the callback stops it */
  ASSERT_EQ(s.runs, 5);
  /* Each expiry re-arms `repeat` after the turn that ran it, which is at or past the
   * deadline: run i is never earlier than 10 + 20 i ms after the start. */
  for (i = 0; i < 5; i++)
    ASSERT_GE(s.ran_at[i] - start, 10 + 20 * i);
  ASSERT_EQ(s.active_in_callback, 1); /* a repeating timer is re-armed before its callback */
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_restart_from_its_callback) {
  struct shot s;
  nx_loop_t *loop;
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  s.restart_until = 4; /* each run but the last restarts it 10 ms out */
  shot_timer(loop, &s);
  start = t_now_ms();
  ASSERT_OK(nx_timer_start(s.timer, 0, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 4);
  ASSERT_GE(s.ran_at[3] - start, 30);
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);

  /* A repeating timer restarted from its callback takes the new values. */
  ASSERT_OK(nx_timer_free(s.timer));
  shot_init(&s, 0);
  shot_timer(loop, &s);
  s.restart_until = 2;
  ASSERT_OK(nx_timer_start(s.timer, 0, 5));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1); /* restarted as a one-shot 10 ms out */
  ASSERT_EQ(s.runs, 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 2);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_again_and_set_repeat) {
  struct shot s;
  nx_loop_t *loop;
  int64_t due = 0;
  int64_t repeat = -1;
  int64_t start;
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  shot_timer(loop, &s);
  ASSERT_OK(nx_timer_again(s.timer)); /* no repeat: nothing */
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);
  ASSERT_OK(nx_timer_start(s.timer, 60000, 0));
  ASSERT_OK(nx_timer_again(s.timer)); /* still no repeat: left as it is */
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_GT(due, 59000);

  ASSERT_OK(nx_timer_set_repeat(s.timer, 30));
  ASSERT_OK(nx_timer_repeat(s.timer, &repeat));
  ASSERT_EQ(repeat, 30);
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_GT(due, 59000); /* set_repeat does not re-arm */
  start = t_now_ms();
  ASSERT_OK(nx_timer_again(s.timer)); /* 30 ms out, then every 30 ms */
  ASSERT_OK(nx_timer_due_in(s.timer, &due));
  ASSERT_LE(due, 30);
  s.stop_after = 2;
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 2);
  ASSERT_GE(s.ran_at[1] - start, 60);

  /* The repeat set from here on applies from the next expiry; 0 makes it the last. */
  s.stop_after = 0;
  ASSERT_OK(nx_timer_again(s.timer));
  ASSERT_OK(nx_timer_set_repeat(s.timer, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 3);
  ASSERT_EQ(nx_timer_is_active(s.timer), 0);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_ref_unref) {
  struct shot s;
  struct shot keeper;
  nx_loop_t *loop;
  int64_t start = t_now_ms();
  ASSERT_OK(nx_loop_new(&loop));
  shot_init(&s, 0);
  shot_init(&keeper, 1);
  shot_timer(loop, &s);
  shot_timer(loop, &keeper);
  ASSERT_EQ(nx_timer_has_ref(s.timer), 1);
  ASSERT_OK(nx_timer_set_ref(s.timer, 0));
  ASSERT_EQ(nx_timer_has_ref(s.timer), 0);
  ASSERT_OK(nx_timer_start(s.timer, 60000, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* an unref'd timer keeps nothing alive */
  ASSERT_LT(t_now_ms() - start, 60000);
  ASSERT_EQ(nx_timer_is_active(s.timer), 1); /* but it stays armed */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0);

  ASSERT_OK(nx_timer_set_ref(s.timer, 1));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1); /* ref'd again, while active */
  ASSERT_OK(nx_timer_stop(s.timer));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0);

  /* An unref'd timer still fires while the loop runs for something else. */
  ASSERT_OK(nx_timer_set_ref(s.timer, 0));
  ASSERT_OK(nx_timer_start(s.timer, 10, 0));
  ASSERT_OK(nx_timer_start(keeper.timer, 50, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(s.runs, 1);
  ASSERT_EQ(keeper.runs, 1);
  ASSERT_OK(nx_timer_free(s.timer));
  ASSERT_OK(nx_timer_free(keeper.timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* A huge timeout is kept exact (no silent cap at a century), up to INT64_MAX ms. */
TEST_IMPL(timer_huge_timeout_exact) {
  nx_loop_t *loop;
  nx_timer_t *timer;
  struct shot s;
  int64_t due = 0;
  const int64_t two_centuries = (int64_t)200 * 365 * 24 * 3600 * 1000;
  shot_init(&s, 0);
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_timer_new(loop, on_shot, &s, NULL, &timer));
  ASSERT_OK(nx_timer_start(timer, two_centuries, 0));
  ASSERT_OK(nx_timer_due_in(timer, &due));
  ASSERT_GT(due, two_centuries - 60000);
  ASSERT_LE(due, two_centuries);
  ASSERT_OK(nx_timer_start(timer, INT64_MAX, 0));
  ASSERT_OK(nx_timer_due_in(timer, &due));
  ASSERT_GT(due, INT64_MAX - 60000);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(s.runs, 0);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
