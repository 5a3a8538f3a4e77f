/* Listeners: in order, on the promise's loop on a later turn (never inside the completing or
 * adding call), also when added late, also when added while the completing thread is still
 * handing the earlier ones on; they get the promise's handle; their attachments are freed
 * once, also when they never run; a promise without a loop runs them on the completing
 * thread; a shutdown that drops queued tasks still runs the listeners owed (also those of the
 * timers it cancels). */
#include "loop-helpers.h"

#define LISTENERS 4

struct heard {
  struct t_freed freed; /* first: t_record_free(&heard) counts here */
  int *order;
  int *count;
  int index;
  nx_promise_t *expected;
  nx_promise_t *got;
  pthread_t thread;
};

static void record_listener(nx_promise_t *promise, void *arg) {
  struct heard *h = arg;
  h->got = promise;
  h->thread = pthread_self();
  h->order[__atomic_fetch_add(h->count, 1, __ATOMIC_SEQ_CST)] = h->index;
}

static void init_heard(struct heard *h, int n, int *order, int *count, nx_promise_t *p) {
  int i;
  memset(h, 0, (size_t)n * sizeof(*h));
  for (i = 0; i < n; i++) {
    h[i].order = order;
    h[i].count = count;
    h[i].index = i;
    h[i].expected = p;
  }
}

TEST_IMPL(promise_listener_order_and_late) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct heard heard[LISTENERS + 1];
  int order[LISTENERS + 1];
  int count = 0;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));
  init_heard(heard, LISTENERS + 1, order, &count, promise);
  for (i = 0; i < LISTENERS; i++)
    ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[i], t_record_free));
  ASSERT_EQ(nx_promise_try_success(promise, NULL, NULL), 1);
  ASSERT_EQ(count, 0); /* not inside the completing call */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(count, LISTENERS);
  for (i = 0; i < LISTENERS; i++) {
    ASSERT_EQ(order[i], i);
    ASSERT_PTR_EQ(heard[i].got, promise);
    ASSERT_EQ(heard[i].freed.count, 1);
  }

  /* Added after completion: still on a later turn. */
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[LISTENERS], t_record_free));
  ASSERT_EQ(count, LISTENERS);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(count, LISTENERS + 1);
  ASSERT_EQ(order[LISTENERS], LISTENERS);
  ASSERT_EQ(heard[LISTENERS].freed.count, 1);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASKS_RUN), LISTENERS + 1);

  ASSERT_EQ(nx_promise_add_listener(promise, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

struct completer {
  nx_promise_t *promise;
  pthread_t thread;
};

static void *complete_later(void *arg) {
  struct completer *c = arg;
  t_sleep_ms(20);
  nx_promise_try_failure(c->promise, -EPIPE);
  return NULL;
}

TEST_IMPL(promise_listener_on_loop_thread) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct heard heard[2];
  struct completer completer;
  int order[2];
  int count = 0;
  pthread_t loop_thread;
  ASSERT_OK(nx_loop_start(&loop));
  loop_thread = t_loop_thread(loop);
  ASSERT_OK(nx_promise_new(loop, &promise));
  init_heard(heard, 2, order, &count, promise);
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[0], t_record_free));
  completer.promise = promise;
  ASSERT_OK(pthread_create(&completer.thread, NULL, complete_later, &completer));
  ASSERT_OK(pthread_join(completer.thread, NULL));
  t_wait_for(&heard[0].freed.count, 1);
  ASSERT(pthread_equal(heard[0].thread, loop_thread));
  ASSERT(pthread_equal(heard[0].freed.thread, loop_thread)); /* freed right after, there */
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[1], t_record_free));
  t_wait_for(&heard[1].freed.count, 1);
  ASSERT(pthread_equal(heard[1].thread, loop_thread));
  ASSERT_EQ(count, 2);
  ASSERT_OK(nx_promise_free(promise));
  t_stop_loop(loop);
  return 0;
}

TEST_IMPL(promise_listener_without_executor) {
  nx_promise_t *promise;
  struct heard heard[2];
  struct completer completer;
  int order[2];
  int count = 0;
  ASSERT_OK(nx_promise_new(NULL, &promise));
  init_heard(heard, 2, order, &count, promise);
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[0], t_record_free));
  completer.promise = promise;
  ASSERT_OK(pthread_create(&completer.thread, NULL, complete_later, &completer));
  ASSERT_OK(pthread_join(completer.thread, NULL));
  /* It ran on the completing thread, inside its call. */
  ASSERT_EQ(count, 1);
  ASSERT(pthread_equal(heard[0].thread, completer.thread));
  ASSERT_EQ(heard[0].freed.count, 1);
  /* Added late, it runs inside nx_promise_add_listener (the documented exception). */
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[1], t_record_free));
  ASSERT_EQ(count, 2);
  ASSERT(pthread_equal(heard[1].thread, pthread_self()));
  ASSERT_OK(nx_promise_free(promise));
  return 0;
}

static int g_value_freed;

static void count_value_free(void *value) {
  (void)value;
  __atomic_fetch_add(&g_value_freed, 1, __ATOMIC_SEQ_CST);
}

static void free_in_listener(nx_promise_t *promise, void *arg) {
  void *value = NULL;
  int *rc = arg;
  rc[0] = nx_promise_value(promise, &value);
  rc[1] = nx_promise_free(promise);
  rc[2] = nx_promise_free(promise);
  rc[3] = g_value_freed;
}

TEST_IMPL(promise_listener_frees_promise) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  int rc[4] = {1, 1, 1, 1};
  int value = 5;
  g_value_freed = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));
  ASSERT_OK(nx_promise_add_listener(promise, free_in_listener, rc, NULL));
  ASSERT_EQ(nx_promise_try_success(promise, &value, count_value_free), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(rc[0]);
  ASSERT_OK(rc[1]);
  ASSERT_EQ(rc[2], NX_EBADHANDLE);
  ASSERT_EQ(rc[3], 0);          /* the listener still held the promise ... */
  ASSERT_EQ(g_value_freed, 1); /* ... and released it, with its value, once it returned */
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(promise_listener_never_runs) {
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct heard heard[2];
  int order[2];
  int count = 0;
  /* Queued to a loop that closes before its next turn: the promise completed, so the
   * listener is owed; the close runs it, on the closing thread, then frees its attachment. */
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));
  init_heard(heard, 2, order, &count, promise);
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[0], t_record_free));
  ASSERT_EQ(nx_promise_try_success(promise, NULL, NULL), 1);
  ASSERT_EQ(count, 0);
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(count, 1);
  ASSERT(pthread_equal(heard[0].thread, pthread_self()));
  ASSERT_EQ(heard[0].freed.count, 1);
  ASSERT(pthread_equal(heard[0].freed.thread, pthread_self()));
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_loop_free(loop));
  count = 0;

  /* On a promise that never completes: freed with the promise. */
  ASSERT_OK(nx_promise_new(NULL, &promise));
  ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[1], t_record_free));
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_EQ(count, 0);
  ASSERT_EQ(heard[1].freed.count, 1);
  return 0;
}

/* Completes `promise` at once, while the test thread adds listeners to it. */
struct racer {
  nx_promise_t *promise;
  int rc;
};

static void *complete_promise(void *arg) {
  struct racer *c = arg;
  c->rc = nx_promise_try_success(c->promise, NULL, NULL);
  return NULL;
}

#define RACE_LISTENERS 300

TEST_IMPL(promise_listener_order_across_completion) {
  static struct heard heard[RACE_LISTENERS + 1];
  static int order[RACE_LISTENERS + 1];
  nx_loop_t *loop;
  nx_promise_t *promise;
  struct racer completer;
  pthread_t thread;
  int64_t deadline;
  int count, round, i;
  ASSERT_OK(nx_loop_start(&loop));
  for (round = 0; round < 20; round++) {
    count = 0;
    ASSERT_OK(nx_promise_new(loop, &promise));
    init_heard(heard, RACE_LISTENERS + 1, order, &count, promise);
    for (i = 0; i < RACE_LISTENERS; i++)
      ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[i], NULL));
    completer.promise = promise;
    completer.rc = 0;
    ASSERT_OK(pthread_create(&thread, NULL, complete_promise, &completer));
    /* The last listener is added as soon as the promise is done: it must still run last. */
    deadline = t_now_ms() + T_LIMIT_MS;
    while (nx_promise_is_done(promise) != 1)
      ASSERT(t_now_ms() < deadline);
    ASSERT_OK(nx_promise_add_listener(promise, record_listener, &heard[RACE_LISTENERS], NULL));
    ASSERT_OK(pthread_join(thread, NULL));
    ASSERT_EQ(completer.rc, 1);
    t_wait_for(&count, RACE_LISTENERS + 1);
    for (i = 0; i <= RACE_LISTENERS; i++)
      ASSERT_EQ(order[i], i);
    ASSERT_OK(nx_promise_free(promise));
  }
  t_stop_loop(loop);
  return 0;
}

TEST_IMPL(promise_listener_of_a_timer_cancelled_by_shutdown_now) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct heard heard[1];
  int order[1];
  int count = 0;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, NULL, NULL, &timer));
  init_heard(heard, 1, order, &count, timer);
  ASSERT_OK(nx_promise_add_listener(timer, record_listener, &heard[0], t_record_free));
  ASSERT_OK(nx_loop_shutdown_now(loop));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(nx_promise_is_cancelled(timer), 1);
  ASSERT_EQ(__atomic_load_n(&count, __ATOMIC_SEQ_CST), 1);
  ASSERT_EQ(heard[0].freed.count, 1);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* A chain of promises without a loop, each listener completing the next: listeners run on
 * the completing thread, nested at most a few deep, so any length completes. */
#define CHAIN 30000

static void complete_next(nx_promise_t *promise, void *next) {
  (void)promise;
  ASSERT_EQ(nx_promise_try_success(next, NULL, NULL), 1);
}

static void *complete_first(void *first) {
  ASSERT_EQ(nx_promise_try_success(first, NULL, NULL), 1);
  return NULL;
}

TEST_IMPL(promise_long_chain_without_loop) {
  nx_promise_t **chain = calloc(CHAIN, sizeof(*chain));
  pthread_attr_t attr;
  pthread_t thread;
  int i;
  ASSERT_NOT_NULL(chain);
  for (i = 0; i < CHAIN; i++)
    ASSERT_OK(nx_promise_new(NULL, &chain[i]));
  for (i = 0; i + 1 < CHAIN; i++)
    ASSERT_OK(nx_promise_add_listener(chain[i], complete_next, chain[i + 1], NULL));
  /* A 512 KiB stack: far too small for 30,000 nested listeners. */
  ASSERT_OK(pthread_attr_init(&attr));
  ASSERT_OK(pthread_attr_setstacksize(&attr, 512 * 1024));
  ASSERT_OK(pthread_create(&thread, &attr, complete_first, chain[0]));
  ASSERT_OK(pthread_join(thread, NULL));
  ASSERT_OK(pthread_attr_destroy(&attr));
  ASSERT_EQ(nx_promise_is_done(chain[CHAIN - 1]), 1);
  for (i = 0; i < CHAIN; i++)
    ASSERT_OK(nx_promise_free(chain[i]));
  free(chain);
  return 0;
}
