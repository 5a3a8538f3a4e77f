/* Waiting: with a timeout, until another thread completes the promise, and on the loop's own
 * thread, where waiting is an error (NX_EDEADLK), never a hang. */
#include "loop-helpers.h"

struct later {
  nx_promise_t *promise;
  int delay_ms;
};

static void *succeed_later(void *arg) {
  struct later *l = arg;
  t_sleep_ms(l->delay_ms);
  nx_promise_try_success(l->promise, NULL, NULL);
  return NULL;
}

TEST_IMPL(promise_wait_timeout) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct later later;
  pthread_t thread;
  int64_t start;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));
  start = t_now_ms();
  ASSERT_EQ(nx_promise_wait(promise, 50), NX_ETIMEDOUT);
  ASSERT_GE(t_now_ms() - start, 50);
  ASSERT_EQ(nx_promise_wait(promise, 0), NX_ETIMEDOUT);
  later.promise = promise;
  later.delay_ms = 30;
  ASSERT_OK(pthread_create(&thread, NULL, succeed_later, &later));
  ASSERT_OK(nx_promise_wait(promise, -1)); /* forever: until the other thread completes it */
  ASSERT_EQ(nx_promise_is_success(promise), 1);
  ASSERT_OK(pthread_join(thread, NULL));
  ASSERT_OK(nx_promise_wait(promise, 0));
  ASSERT_OK(nx_promise_free(promise));
  t_stop_loop(loop);

  /* A promise without a loop may be waited on anywhere. */
  ASSERT_OK(nx_promise_new(NULL, &promise));
  later.promise = promise;
  ASSERT_OK(pthread_create(&thread, NULL, succeed_later, &later));
  ASSERT_OK(nx_promise_wait(promise, T_LIMIT_MS));
  ASSERT_OK(pthread_join(thread, NULL));
  ASSERT_OK(nx_promise_free(promise));
  return 0;
}

struct waiter {
  nx_promise_t *pending;
  nx_promise_t *done;
  int rc_pending;
  int rc_done;
  int finished;
};

static int wait_inside(nx_loop_t *loop, void *arg) {
  struct waiter *w = arg;
  (void)loop;
  w->rc_pending = nx_promise_wait(w->pending, -1); /* would wait for itself */
  w->rc_done = nx_promise_wait(w->done, -1);       /* complete: nothing to wait for */
  t_store(&w->finished, 1);
  return 0;
}

TEST_IMPL(promise_wait_on_loop_thread) {
  nx_loop_t *loop;
  nx_promise_t *future;
  struct waiter w = {NULL, NULL, 1, 1, 0};
  int ran = 0;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_promise_new(loop, &w.pending));
  ASSERT_OK(nx_promise_new(loop, &w.done));
  ASSERT_OK(nx_promise_set_success(w.done, NULL, NULL));
  ASSERT_OK(nx_loop_execute(loop, wait_inside, &w, NULL));
  t_wait_for(&w.finished, 1);
  ASSERT_EQ(w.rc_pending, NX_EDEADLK);
  ASSERT_OK(w.rc_done);
  ASSERT_OK(nx_promise_free(w.pending));
  ASSERT_OK(nx_promise_free(w.done));
  t_stop_loop(loop);

  /* The owner of a caller-driven loop that nobody else runs: an error, not a hang. */
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 0, t_count_task, &ran, NULL, &future));
  ASSERT_EQ(nx_promise_wait(future, -1), NX_EDEADLK);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_promise_wait(future, -1));
  ASSERT_EQ(ran, 1);
  ASSERT_OK(nx_promise_free(future));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
