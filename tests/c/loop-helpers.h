/*
 * loop-helpers.h: what the event loop, promise and group tests share (counting tasks and
 * frees, bounded waits on loops and promises), on top of net-helpers.h.
 *
 * Every wait is bounded (T_LIMIT_MS). Loops started with nx_loop_start and groups are freed
 * by each test, which joins their threads, so the runner finds no thread left behind.
 */
#ifndef NX_LOOP_HELPERS_H
#define NX_LOOP_HELPERS_H

/* pipe2(); include this header first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>

#include "net-helpers.h"

/* A task that adds 1 to the int its attachment points to (atomically: any thread). */
static inline int t_count_task(nx_loop_t *loop, void *counter) {
  (void)loop;
  __atomic_fetch_add((int *)counter, 1, __ATOMIC_SEQ_CST);
  return 0;
}

/* A task that does nothing. */
static inline int t_noop_task(nx_loop_t *loop, void *attachment) {
  (void)loop;
  (void)attachment;
  return 0;
}

/* A listener that adds 1 to the int its attachment points to. */
static inline void t_count_listener(nx_promise_t *promise, void *counter) {
  (void)promise;
  __atomic_fetch_add((int *)counter, 1, __ATOMIC_SEQ_CST);
}

/* A free function that records that it ran and on which thread. */
struct t_freed {
  int count;
  pthread_t thread;
};

static inline void t_record_free(void *arg) {
  struct t_freed *f = arg;
  f->thread = pthread_self();
  __atomic_fetch_add(&f->count, 1, __ATOMIC_SEQ_CST);
}

/* The value of one loop counter. */
static inline uint64_t t_loop_counter(nx_loop_t *loop, int which) {
  uint64_t value = 0;
  ASSERT_OK(nx_loop_counter(loop, which, &value));
  return value;
}

/* Runs a caller-driven loop until *flag is non-zero (bounded), one NX_RUN_ONCE turn at a
 * time. */
static inline void t_run_until(nx_loop_t *loop, const int *flag) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (!t_load(flag)) {
    ASSERT(t_now_ms() < deadline);
    ASSERT_GE(nx_loop_run(loop, NX_RUN_ONCE), 0);
  }
}

/* Waits (bounded) until *value reaches `at_least`, sleeping meanwhile (for library loops). */
static inline void t_wait_for(const int *value, int at_least) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (t_load(value) < at_least) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
}

/* Shuts a library-driven loop down gracefully, waits for it, and frees it. */
static inline void t_stop_loop(nx_loop_t *loop) {
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_OK(nx_loop_free(loop));
}

/* The pthread id of the loop's thread, found by running a task there. */
static inline int t_thread_task(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                                void *attachment) {
  pthread_t *self = malloc(sizeof(pthread_t));
  (void)loop;
  (void)attachment;
  if (self == NULL)
    return -ENOMEM;
  *self = pthread_self();
  *value_out = self;
  *value_free_out = free;
  return 0;
}

static inline pthread_t t_loop_thread(nx_loop_t *loop) {
  nx_promise_t *future;
  void *value = NULL;
  pthread_t thread;
  ASSERT_OK(nx_loop_submit(loop, t_thread_task, NULL, NULL, &future));
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  ASSERT_OK(nx_promise_value(future, &value));
  thread = *(pthread_t *)value;
  ASSERT_OK(nx_promise_free(future));
  return thread;
}

#endif /* NX_LOOP_HELPERS_H */
