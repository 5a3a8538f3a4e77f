/* Tasks: submission order, never inside the queuing call, failing and panicking tasks (the
 * loop goes on), and tasks that stop, close or free their own loop. */
#include "loop-helpers.h"

#define ORDER_TASKS 1000

struct order {
  int seen[2 * ORDER_TASKS];
  int count;
};

struct order_item {
  struct order *order;
  int index;
};

static int record_task(nx_loop_t *loop, void *arg) {
  struct order_item *item = arg;
  (void)loop;
  item->order->seen[item->order->count++] = item->index;
  return 0;
}

static struct order_item g_late[ORDER_TASKS];

/* The first task queues more tasks from the loop's own thread: they run after every task
 * queued before them. */
static int queue_more(nx_loop_t *loop, void *arg) {
  struct order_item *item = arg;
  int i;
  record_task(loop, item);
  for (i = 0; i < ORDER_TASKS; i++) {
    g_late[i].order = item->order;
    g_late[i].index = ORDER_TASKS + i;
    if (nx_loop_execute(loop, record_task, &g_late[i], NULL) != 0)
      return -1;
  }
  return 0;
}

TEST_IMPL(loop_task_order) {
  static struct order order;
  static struct order_item items[ORDER_TASKS];
  nx_loop_t *loop;
  int i;
  ASSERT_OK(nx_loop_new(&loop));
  for (i = 0; i < ORDER_TASKS; i++) {
    items[i].order = &order;
    items[i].index = i;
    ASSERT_OK(nx_loop_execute(loop, i == 0 ? queue_more : record_task, &items[i], NULL));
  }
  ASSERT_EQ(order.count, 0); /* nothing ran inside execute */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(order.count, 2 * ORDER_TASKS);
  for (i = 0; i < 2 * ORDER_TASKS; i++)
    ASSERT_EQ(order.seen[i], i);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASK_ERRORS), 0);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static int fail_task(nx_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  return -ECONNRESET;
}

static int fail_callable(nx_loop_t *loop, void **value_out, nx_free_cb *value_free_out,
                         void *arg) {
  (void)loop;
  (void)arg;
  *value_out = (void *)1; /* ignored on failure: nothing is kept or freed */
  *value_free_out = NULL;
  return NX_EOF;
}

TEST_IMPL(loop_task_failure) {
  nx_loop_t *loop;
  nx_promise_t *submitted;
  nx_promise_t *scheduled;
  struct t_freed freed = {0, 0};
  int after = 0;
  int cause = 0;
  void *value = NULL;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, fail_task, &freed, t_record_free));
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &after, NULL));
  ASSERT_OK(nx_loop_submit(loop, fail_callable, NULL, NULL, &submitted));
  ASSERT_OK(nx_loop_schedule(loop, 0, fail_task, NULL, NULL, &scheduled));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(after, 1); /* the loop went on */
  ASSERT_EQ(freed.count, 1);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASK_ERRORS), 1);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_PANICS), 0);
  ASSERT_OK(nx_promise_cause(submitted, &cause));
  ASSERT_EQ(cause, NX_EOF);
  ASSERT_EQ(nx_promise_value(submitted, &value), NX_EOF);
  ASSERT_NULL(value);
  ASSERT_OK(nx_promise_cause(scheduled, &cause));
  ASSERT_EQ(cause, -ECONNRESET);
  ASSERT_EQ(nx_promise_is_success(scheduled), 0);
  ASSERT_OK(nx_promise_free(submitted));
  ASSERT_OK(nx_promise_free(scheduled));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_task_panic) {
  nx_loop_t *loop;
  nx_loop_t *started;
  int after = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_debug_loop_panic(loop));
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &after, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(after, 1);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_PANICS), 1);
  ASSERT_OK(nx_loop_free(loop));

  /* A library thread survives it too. */
  ASSERT_OK(nx_loop_start(&started));
  ASSERT_OK(nx_debug_loop_panic(started));
  ASSERT_OK(nx_loop_execute(started, t_count_task, &after, NULL));
  t_wait_for(&after, 2);
  ASSERT_EQ(t_loop_counter(started, NX_LOOP_COUNTER_PANICS), 1);
  ASSERT(!pthread_equal(t_loop_thread(started), pthread_self()));
  t_stop_loop(started);
  return 0;
}

struct self_call {
  int rc;
  int rc2;
  int ran;
};

static int close_own_loop(nx_loop_t *loop, void *arg) {
  struct self_call *c = arg;
  c->rc = nx_loop_close(loop);
  c->rc2 = nx_loop_execute(loop, t_count_task, &c->ran, NULL); /* own thread: accepted */
  return 0;
}

TEST_IMPL(loop_task_closes_own_loop) {
  nx_loop_t *loop;
  struct self_call call = {1, 1, 0};
  struct t_freed never = {0, 0};
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, close_own_loop, &call, NULL));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, &never, t_record_free, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* returns once terminated */
  ASSERT_OK(call.rc);
  ASSERT_OK(call.rc2);
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_EQ(never.count, 1); /* the cancelled timer's attachment */
  ASSERT(pthread_equal(never.thread, pthread_self()));
  ASSERT_EQ(nx_loop_execute(loop, t_noop_task, NULL, NULL), NX_EREJECTED);
  ASSERT_OK(nx_loop_free(loop));

  /* The same on a library thread: the test's thread then waits for it. */
  call.rc = call.rc2 = 1;
  call.ran = 0;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_execute(loop, close_own_loop, &call, NULL));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_OK(call.rc);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static int stop_and_count(nx_loop_t *loop, void *arg) {
  struct self_call *c = arg;
  c->rc = nx_loop_stop(loop);
  c->ran++;
  return 0;
}

TEST_IMPL(loop_task_stops_own_loop) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct self_call call = {1, 1, 0};
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_schedule(loop, 60000, t_noop_task, NULL, NULL, &timer));
  ASSERT_OK(nx_loop_execute(loop, stop_and_count, &call, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1);
  ASSERT_OK(call.rc);
  ASSERT_EQ(call.ran, 1);
  ASSERT_OK(nx_loop_execute(loop, stop_and_count, &call, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 1); /* and again: each stop ends one run */
  ASSERT_EQ(call.ran, 2);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop)); /* cancels the timer */
  return 0;
}

static int free_own_loop(nx_loop_t *loop, void *arg) {
  struct self_call *c = arg;
  c->rc = nx_loop_free(loop);
  c->rc2 = nx_loop_await_termination(loop, 0);
  t_store(&c->ran, 1);
  return 0;
}

TEST_IMPL(loop_task_frees_own_loop) {
  nx_loop_t *loop;
  struct self_call call = {0, 0, 0};
  /* A library thread cannot wait for itself: the handle stays valid. */
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(nx_loop_execute(loop, free_own_loop, &call, NULL));
  t_wait_for(&call.ran, 1);
  ASSERT_EQ(call.rc, NX_EDEADLK);
  ASSERT_EQ(call.rc2, NX_EDEADLK);
  ASSERT_EQ(nx_loop_is_shutting_down(loop), 0);
  t_stop_loop(loop);

  /* A caller-driven loop is closed by it, and terminates when the run returns. */
  call.rc = call.rc2 = 0;
  call.ran = 0;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, free_own_loop, &call, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(call.rc, NX_EDEADLK);
  ASSERT_EQ(call.rc2, NX_EDEADLK);
  ASSERT_EQ(nx_loop_is_terminated(loop), 1);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* A failing task's report on standard error, written to a pipe nobody reads: the child keeps
 * SIGPIPE's default action (which kills), and must live. */
static int child_reports_to_a_closed_pipe(void) {
  nx_loop_t *loop;
  int fds[2];
  ASSERT_OK(pipe(fds));
  ASSERT_OK(close(fds[0]));
  ASSERT(dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
  ASSERT_OK(close(fds[1]));
  signal(SIGPIPE, SIG_DFL);
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, fail_task, NULL, NULL));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_TASK_ERRORS), 1);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_task_error_report_never_raises_sigpipe) {
  return t_in_child(child_reports_to_a_closed_pipe);
}

/* A task that queues itself again runs once per turn: what a turn queues runs in the next. */
static int requeue_self(nx_loop_t *loop, void *runs) {
  if (++*(int *)runs < 100)
    return nx_loop_execute(loop, requeue_self, runs, NULL);
  return 0;
}

TEST_IMPL(loop_task_requeued_runs_next_turn) {
  nx_loop_t *loop;
  int runs = 0;
  int turn;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_execute(loop, requeue_self, &runs, NULL));
  for (turn = 1; turn <= 3; turn++) {
    ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
    ASSERT_EQ(runs, turn);
  }
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(runs, 100);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
