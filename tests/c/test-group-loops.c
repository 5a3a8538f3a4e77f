/* Loop groups: next() round-robin over the group's own loop handles, execute / submit /
 * schedule on the next loop, graceful shutdown and rejection, freeing from a group thread. */
#include "loop-helpers.h"

#define GROUP_THREADS 3

TEST_IMPL(group_next_round_robin) {
  nx_loop_group_t *group;
  nx_loop_t *seen[2 * GROUP_THREADS];
  size_t size = 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int i;
  int j;
  ASSERT_OK(nx_loop_group_new(GROUP_THREADS, &group));
  ASSERT_OK(nx_loop_group_size(group, &size));
  ASSERT_EQ(size, GROUP_THREADS);
  for (i = 0; i < 2 * GROUP_THREADS; i++)
    ASSERT_OK(nx_loop_group_next(group, &seen[i]));
  for (i = 0; i < GROUP_THREADS; i++) {
    ASSERT_PTR_EQ(seen[i], seen[i + GROUP_THREADS]); /* the same handle each time */
    for (j = 0; j < i; j++)
      ASSERT(seen[i] != seen[j]);
    ASSERT_EQ(nx_loop_in_event_loop(seen[i]), 0);
    ASSERT_EQ(nx_loop_run(seen[i], NX_RUN_NOWAIT), NX_EBUSY);
    ASSERT_EQ(nx_loop_free(seen[i]), NX_EINVAL); /* the group's, not ours */
  }
  ASSERT_OK(nx_loop_group_free(group));
  ASSERT_EQ(nx_loop_in_event_loop(seen[0]), NX_EBADHANDLE); /* freed with the group */
  ASSERT_EQ(nx_loop_group_size(group, &size), NX_EBADHANDLE);

  /* 0 threads: one per core. */
  ASSERT_OK(nx_loop_group_new(0, &group));
  ASSERT_OK(nx_loop_group_size(group, &size));
  ASSERT_EQ(size, cores > 0 ? (size_t)cores : 1);
  ASSERT_OK(nx_loop_group_free(group));

  /* More than 4096 threads: refused, with no thread started. */
  group = NULL;
  ASSERT_EQ(nx_loop_group_new(4097, &group), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_new((size_t)1 << 40, &group), NX_EINVAL);
  ASSERT_EQ(nx_loop_group_new(SIZE_MAX, &group), NX_EINVAL);
  ASSERT_PTR_EQ(group, NULL);
  return 0;
}

struct where {
  nx_loop_t *loop;
  pthread_t thread;
  int done;
};

static int record_where(nx_loop_t *loop, void *arg) {
  struct where *w = arg;
  w->loop = loop;
  w->thread = pthread_self();
  t_store(&w->done, 1);
  return 0;
}

static int answer(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out, void *arg) {
  (void)loop;
  (void)value_free_out;
  *value_out = arg;
  return 0;
}

TEST_IMPL(group_execute_submit_schedule) {
  nx_loop_group_t *group;
  nx_loop_t *loops[GROUP_THREADS];
  struct where where[GROUP_THREADS];
  nx_promise_t *future;
  nx_promise_t *timer;
  nx_promise_t *periodic;
  void *value = NULL;
  int token = 7;
  int ticks = 0;
  int64_t start;
  int i;
  memset(where, 0, sizeof(where));
  ASSERT_OK(nx_loop_group_new(GROUP_THREADS, &group));
  for (i = 0; i < GROUP_THREADS; i++)
    ASSERT_OK(nx_loop_group_next(group, &loops[i]));
  /* The next GROUP_THREADS tasks go to each loop once, in the same order. */
  for (i = 0; i < GROUP_THREADS; i++)
    ASSERT_OK(nx_loop_group_execute(group, record_where, &where[i], NULL));
  for (i = 0; i < GROUP_THREADS; i++) {
    t_wait_for(&where[i].done, 1);
    ASSERT_PTR_EQ(where[i].loop, loops[i]); /* the task gets its loop's handle */
    ASSERT(!pthread_equal(where[i].thread, pthread_self()));
    if (i > 0)
      ASSERT(!pthread_equal(where[i].thread, where[i - 1].thread));
  }

  ASSERT_OK(nx_loop_group_submit(group, answer, &token, NULL, &future));
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  ASSERT_OK(nx_promise_value(future, &value));
  ASSERT_PTR_EQ(value, &token);
  ASSERT_OK(nx_promise_free(future));

  start = t_now_ms();
  ASSERT_OK(nx_loop_group_schedule(group, 30, t_noop_task, NULL, NULL, &timer));
  ASSERT_OK(nx_promise_wait(timer, T_LIMIT_MS));
  ASSERT_GE(t_now_ms() - start, 30);
  ASSERT_EQ(nx_promise_is_success(timer), 1);
  ASSERT_OK(nx_promise_free(timer));

  ASSERT_OK(nx_loop_group_schedule_at_fixed_rate(group, 0, 5, t_count_task, &ticks, NULL,
                                                 &periodic));
  t_wait_for(&ticks, 3);
  ASSERT_EQ(nx_promise_cancel(periodic), 1);
  ASSERT_OK(nx_promise_free(periodic));
  ASSERT_OK(nx_loop_group_schedule_with_fixed_delay(group, 0, 5, t_count_task, &ticks, NULL,
                                                    &periodic));
  t_wait_for(&ticks, 6);
  ASSERT_EQ(nx_promise_cancel(periodic), 1);
  ASSERT_OK(nx_promise_free(periodic));
  ASSERT_EQ(nx_loop_group_schedule_at_fixed_rate(group, 0, 0, t_count_task, &ticks, NULL, NULL),
            NX_EINVAL);
  ASSERT_OK(nx_loop_group_free(group));
  return 0;
}

TEST_IMPL(group_shutdown_gracefully) {
  nx_loop_group_t *group;
  nx_loop_t *loop;
  struct t_freed rejected = {0, 0};
  nx_promise_t *future = NULL;
  int ran = 0;
  int i;
  ASSERT_OK(nx_loop_group_new(2, &group));
  for (i = 0; i < 100; i++)
    ASSERT_OK(nx_loop_group_execute(group, t_count_task, &ran, NULL));
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 20, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_group_execute(group, t_noop_task, &rejected, t_record_free), NX_EREJECTED);
  ASSERT_EQ(nx_loop_group_schedule(group, 0, t_noop_task, &rejected, t_record_free, &future),
            NX_EREJECTED);
  ASSERT_NULL(future);
  ASSERT_OK(nx_loop_group_await_termination(group, T_LIMIT_MS));
  ASSERT_EQ(nx_loop_group_is_terminated(group), 1);
  ASSERT_EQ(ran, 100); /* all queued work ran */
  ASSERT_EQ(rejected.count, 0);
  ASSERT_OK(nx_loop_group_next(group, &loop));
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_OK(nx_loop_group_shutdown_gracefully(group, 0, 0)); /* idempotent */
  ASSERT_OK(nx_loop_group_free(group));
  return 0;
}

struct self_free {
  nx_loop_group_t *group;
  int rc_free;
  int rc_await;
  int done;
};

static int free_own_group(nx_loop_t *loop, void *arg) {
  struct self_free *s = arg;
  (void)loop;
  s->rc_free = nx_loop_group_free(s->group);
  s->rc_await = nx_loop_group_await_termination(s->group, 1000);
  t_store(&s->done, 1);
  return 0;
}

TEST_IMPL(group_free_from_own_thread) {
  struct self_free s = {NULL, 1, 1, 0};
  struct t_freed dropped = {0, 0};
  ASSERT_OK(nx_loop_group_new(2, &s.group));
  ASSERT_OK(nx_loop_group_execute(s.group, free_own_group, &s, NULL));
  t_wait_for(&s.done, 1);
  ASSERT_EQ(s.rc_free, NX_EDEADLK);
  ASSERT_EQ(s.rc_await, NX_EDEADLK);
  /* The handle is still valid; freeing from here shuts down now, joins, frees what never
   * ran. */
  ASSERT_OK(nx_loop_group_schedule(s.group, 60000, t_noop_task, &dropped, t_record_free, NULL));
  ASSERT_EQ(nx_loop_group_is_terminated(s.group), 0);
  ASSERT_OK(nx_loop_group_free(s.group));
  ASSERT_EQ(dropped.count, 1);
  ASSERT_EQ(nx_loop_group_free(s.group), NX_EBADHANDLE);
  return 0;
}
