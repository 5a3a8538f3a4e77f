/* Completing promises: exactly once (try_ variants say who won), failure and cancel, values
 * freed exactly once (a lost value is not freed), and futures of tasks and timers, which
 * only nioxide completes. */
#include "loop-helpers.h"

static int g_values_freed;

static void free_value(void *value) {
  __atomic_fetch_add(&g_values_freed, 1, __ATOMIC_SEQ_CST);
  free(value);
}

TEST_IMPL(promise_complete_once) {
  nx_promise_t *promise;
  int *value = malloc(sizeof(int));
  int other = 2;
  void *got = NULL;
  int cause = 1;
  ASSERT_NOT_NULL(value);
  *value = 1;
  g_values_freed = 0;
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_promise_is_done(promise), 0);
  ASSERT_EQ(nx_promise_value(promise, &got), NX_ETIMEDOUT); /* not complete yet */
  ASSERT_OK(nx_promise_cause(promise, &cause));
  ASSERT_EQ(cause, 0);
  ASSERT_EQ(nx_promise_try_success(promise, value, free_value), 1);
  ASSERT_EQ(nx_promise_try_success(promise, &other, free_value), 0); /* lost: not freed */
  ASSERT_EQ(nx_promise_set_success(promise, &other, free_value), NX_EALREADYDONE);
  ASSERT_EQ(nx_promise_try_failure(promise, NX_EOF), 0);
  ASSERT_EQ(nx_promise_set_failure(promise, NX_EOF), NX_EALREADYDONE);
  ASSERT_EQ(nx_promise_cancel(promise), 0);
  ASSERT_EQ(g_values_freed, 0);
  ASSERT_EQ(nx_promise_is_done(promise), 1);
  ASSERT_EQ(nx_promise_is_success(promise), 1);
  ASSERT_EQ(nx_promise_is_cancelled(promise), 0);
  ASSERT_OK(nx_promise_value(promise, &got));
  ASSERT_PTR_EQ(got, value);
  ASSERT_OK(nx_promise_cause(promise, &cause));
  ASSERT_EQ(cause, 0);
  ASSERT_OK(nx_promise_wait(promise, 0));
  ASSERT_OK(nx_promise_free(promise)); /* the promise's last reference frees the value */
  ASSERT_EQ(g_values_freed, 1);

  /* Success without a value; set_success the first time. */
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_OK(nx_promise_set_success(promise, NULL, NULL));
  ASSERT_OK(nx_promise_value(promise, &got));
  ASSERT_NULL(got);
  ASSERT_OK(nx_promise_free(promise));
  /* A value without a free function is the caller's to free. */
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_promise_try_success(promise, &other, NULL), 1);
  ASSERT_OK(nx_promise_value(promise, &got));
  ASSERT_PTR_EQ(got, &other);
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_EQ(g_values_freed, 1);
  return 0;
}

TEST_IMPL(promise_failure_and_cancel) {
  nx_promise_t *promise;
  void *got = (void *)1;
  int cause = 0;
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_promise_try_failure(promise, 0), NX_EINVAL); /* a failure is negative */
  ASSERT_EQ(nx_promise_try_failure(promise, 5), NX_EINVAL);
  ASSERT_EQ(nx_promise_try_failure(promise, -ECONNRESET), 1);
  ASSERT_EQ(nx_promise_try_failure(promise, NX_EOF), 0);
  ASSERT_EQ(nx_promise_is_done(promise), 1);
  ASSERT_EQ(nx_promise_is_success(promise), 0);
  ASSERT_EQ(nx_promise_is_cancelled(promise), 0);
  ASSERT_OK(nx_promise_cause(promise, &cause));
  ASSERT_EQ(cause, -ECONNRESET);
  ASSERT_EQ(nx_promise_value(promise, &got), -ECONNRESET);
  ASSERT_PTR_EQ(got, (void *)1); /* unchanged on error */
  ASSERT_OK(nx_promise_free(promise));

  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_OK(nx_promise_set_failure(promise, NX_ETIMEDOUT));
  ASSERT_EQ(nx_promise_set_failure(promise, NX_ETIMEDOUT), NX_EALREADYDONE);
  ASSERT_OK(nx_promise_free(promise));

  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_promise_cancel(promise), 1);
  ASSERT_EQ(nx_promise_cancel(promise), 0);
  ASSERT_EQ(nx_promise_try_success(promise, NULL, NULL), 0);
  ASSERT_EQ(nx_promise_is_cancelled(promise), 1);
  ASSERT_OK(nx_promise_cause(promise, &cause));
  ASSERT_EQ(cause, NX_ECANCELLED);
  ASSERT_EQ(nx_promise_value(promise, &got), NX_ECANCELLED);
  ASSERT_OK(nx_promise_free(promise));

  /* Failing with NX_ECANCELLED is a cancellation too. */
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_EQ(nx_promise_try_failure(promise, NX_ECANCELLED), 1);
  ASSERT_EQ(nx_promise_is_cancelled(promise), 1);
  ASSERT_OK(nx_promise_free(promise));
  return 0;
}

struct made {
  int runs;
  int produce; /* 1: a value with a free function, 0: no value */
};

static int make_value(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                      void *arg) {
  struct made *m = arg;
  (void)loop;
  m->runs++;
  if (m->produce) {
    int *v = malloc(sizeof(int));
    if (v == NULL)
      return -ENOMEM;
    *v = 42;
    *value_out = v;
    *value_free_out = free_value;
  }
  return 0;
}

TEST_IMPL(promise_submit_value) {
  nx_loop_t *loop;
  nx_promise_t *with;
  nx_promise_t *without;
  nx_promise_t *cancelled;
  struct made a = {0, 1};
  struct made b = {0, 0};
  struct made c = {0, 1};
  struct t_freed freed = {0, 0};
  void *got = NULL;
  g_values_freed = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_submit(loop, make_value, &a, NULL, &with));
  ASSERT_OK(nx_loop_submit(loop, make_value, &b, NULL, &without));
  ASSERT_OK(nx_loop_submit(loop, make_value, &c, NULL, NULL)); /* no future wanted */
  ASSERT_OK(nx_loop_submit(loop, make_value, &freed, t_record_free, &cancelled));
  ASSERT_EQ(nx_promise_cancel(cancelled), 1); /* before it started: it never runs */
  ASSERT_EQ(nx_promise_is_done(with), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(a.runs, 1);
  ASSERT_EQ(c.runs, 1);
  ASSERT_EQ(freed.count, 1); /* the cancelled task's attachment, freed once, never run */
  ASSERT_EQ(g_values_freed, 1); /* c's value: nobody held its future */
  ASSERT_OK(nx_promise_value(with, &got));
  ASSERT_EQ(*(int *)got, 42);
  ASSERT_OK(nx_promise_value(without, &got));
  ASSERT_NULL(got);
  ASSERT_EQ(nx_promise_is_cancelled(cancelled), 1);
  ASSERT_OK(nx_promise_free(with));
  ASSERT_EQ(g_values_freed, 2);
  ASSERT_OK(nx_promise_free(without));
  ASSERT_OK(nx_promise_free(cancelled));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(promise_futures_only_nioxide_completes) {
  nx_loop_t *loop;
  nx_promise_t *submitted;
  nx_promise_t *scheduled;
  struct made m = {0, 0};
  int other = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_submit(loop, make_value, &m, NULL, &submitted));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, NULL, NULL, &scheduled));
  ASSERT_EQ(nx_promise_try_success(submitted, &other, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_set_success(scheduled, &other, NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_try_failure(submitted, NX_EOF), NX_EINVAL);
  ASSERT_EQ(nx_promise_set_failure(scheduled, NX_EOF), NX_EINVAL);
  ASSERT_EQ(nx_promise_is_done(submitted), 0);
  ASSERT_EQ(nx_promise_cancel(scheduled), 1); /* cancel is allowed */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(nx_promise_is_success(submitted), 1);
  ASSERT_OK(nx_promise_free(submitted));
  ASSERT_OK(nx_promise_free(scheduled));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

struct running_probe {
  nx_promise_t *future;
  int seen_running;
  int seen_cancel;
};

static int probe_running(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                         void *arg) {
  struct running_probe *probe = arg;
  (void)loop;
  (void)value_out;
  (void)value_free_out;
  probe->seen_running = nx_promise_is_running(probe->future);
  probe->seen_cancel = nx_promise_cancel(probe->future);
  return 0;
}

TEST_IMPL(promise_running_and_uncancellable) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct running_probe probe = {NULL, -1, -1};
  ASSERT_OK(nx_loop_new(&loop));
  /* A promise the caller completes: marked running, it can no longer be cancelled. */
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_EQ(nx_promise_is_running(promise), 0);
  ASSERT_EQ(nx_promise_set_uncancellable(promise), 1);
  ASSERT_EQ(nx_promise_is_running(promise), 1);
  ASSERT_EQ(nx_promise_cancel(promise), 0);
  ASSERT_EQ(nx_promise_is_done(promise), 0);
  ASSERT_OK(nx_promise_set_success(promise, NULL, NULL));
  ASSERT_EQ(nx_promise_is_running(promise), 0); /* complete: no longer running */
  ASSERT_EQ(nx_promise_set_uncancellable(promise), 1);
  ASSERT_OK(nx_promise_free(promise));
  /* Cancelled first: the operation must not start. */
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_EQ(nx_promise_cancel(promise), 1);
  ASSERT_EQ(nx_promise_set_uncancellable(promise), 0);
  ASSERT_EQ(nx_promise_is_running(promise), 0);
  ASSERT_OK(nx_promise_free(promise));
  /* A task's future runs while its task does; only nioxide marks it. */
  ASSERT_OK(nx_loop_submit(loop, probe_running, &probe, NULL, &probe.future));
  ASSERT_EQ(nx_promise_is_running(probe.future), 0);
  ASSERT_EQ(nx_promise_set_uncancellable(probe.future), NX_EINVAL);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(probe.seen_running, 1);
  ASSERT_EQ(probe.seen_cancel, 0);
  ASSERT_EQ(nx_promise_is_success(probe.future), 1);
  ASSERT_EQ(nx_promise_is_running(probe.future), 0);
  ASSERT_EQ(nx_promise_is_running(NULL), NX_EINVAL);
  ASSERT_EQ(nx_promise_set_uncancellable(NULL), NX_EINVAL);
  ASSERT_OK(nx_promise_free(probe.future));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
