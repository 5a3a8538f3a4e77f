/* Reusable timers from creation to free: close and free (also from the timer's own callback),
 * attachment_free exactly once on every path and on the thread the API names, handle misuse,
 * other threads and shutdown, and fork (NX_EFORKED in the child). */
#include "loop-helpers.h"

/* A timer's attachment: counts its runs and its free. */
struct owned {
  struct t_freed freed; /* first: t_record_free(&owned) counts here */
  int runs;
  pthread_t ran_on;
  int close_in_callback;
  int free_in_callback;
  int freed_during_callback; /* freed.count right after the close/free from the callback */
};

static void on_fire(nx_timer_t *timer, void *arg) {
  struct owned *o = arg;
  o->ran_on = pthread_self();
  __atomic_fetch_add(&o->runs, 1, __ATOMIC_SEQ_CST);
  if (o->close_in_callback)
    ASSERT_OK(nx_timer_close(timer));
  if (o->free_in_callback)
    ASSERT_OK(nx_timer_free(timer));
  if (o->close_in_callback || o->free_in_callback)
    o->freed_during_callback = t_load(&o->freed.count);
}

static nx_timer_t *owned_timer(nx_loop_t *loop, struct owned *o) {
  nx_timer_t *timer;
  memset(o, 0, sizeof(*o));
  ASSERT_OK(nx_timer_new(loop, on_fire, o, t_record_free, &timer));
  return timer;
}

TEST_IMPL(timer_close_and_free) {
  struct owned o;
  struct owned p;
  nx_loop_t *loop;
  nx_timer_t *timer;
  nx_timer_t *other;
  int64_t value = 7;
  ASSERT_OK(nx_loop_new(&loop));
  timer = owned_timer(loop, &o);
  ASSERT_OK(nx_timer_start(timer, 60000, 10));
  ASSERT_OK(nx_timer_close(timer));
  ASSERT_EQ(o.freed.count, 1); /* on the closing thread */
  ASSERT(pthread_equal(o.freed.thread, pthread_self()));
  ASSERT_OK(nx_timer_close(timer)); /* idempotent */
  ASSERT_EQ(o.freed.count, 1);

  /* A closed timer: inactive, refuses every call but the queries, ref, close and free. */
  ASSERT_EQ(nx_timer_is_active(timer), 0);
  ASSERT_EQ(nx_timer_start(timer, 0, 0), NX_ECLOSED);
  ASSERT_EQ(nx_timer_stop(timer), NX_ECLOSED);
  ASSERT_EQ(nx_timer_again(timer), NX_ECLOSED);
  ASSERT_EQ(nx_timer_set_repeat(timer, 5), NX_ECLOSED);
  ASSERT_EQ(nx_timer_repeat(timer, &value), NX_ECLOSED);
  ASSERT_EQ(nx_timer_due_in(timer, &value), NX_ECLOSED);
  ASSERT_EQ(value, 7); /* out-parameters unchanged on error */
  ASSERT_OK(nx_timer_set_ref(timer, 0));
  ASSERT_EQ(nx_timer_has_ref(timer), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* it keeps nothing alive */
  ASSERT_EQ(o.runs, 0);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_EQ(o.freed.count, 1);

  /* Free closes an active timer first. */
  other = owned_timer(loop, &p);
  ASSERT_OK(nx_timer_start(other, 10, 0));
  ASSERT_OK(nx_timer_free(other));
  ASSERT_EQ(p.freed.count, 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(p.runs, 0);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_close_or_free_from_its_callback) {
  struct owned closing;
  struct owned freeing;
  nx_loop_t *loop;
  nx_timer_t *a;
  nx_timer_t *b;
  ASSERT_OK(nx_loop_new(&loop));
  a = owned_timer(loop, &closing);
  closing.close_in_callback = 1;
  b = owned_timer(loop, &freeing);
  freeing.free_in_callback = 1;
  ASSERT_OK(nx_timer_start(a, 0, 1)); /* repeating: only the close stops it */
  ASSERT_OK(nx_timer_start(b, 0, 1));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  /* Each ran once; its attachment was freed after the callback returned, on this thread (the
   * loop's). */
  ASSERT_EQ(closing.runs, 1);
  ASSERT_EQ(freeing.runs, 1);
  ASSERT_EQ(closing.freed_during_callback, 0);
  ASSERT_EQ(freeing.freed_during_callback, 0);
  ASSERT_EQ(closing.freed.count, 1);
  ASSERT_EQ(freeing.freed.count, 1);
  ASSERT(pthread_equal(freeing.freed.thread, pthread_self()));
  ASSERT_EQ(nx_timer_start(a, 0, 0), NX_ECLOSED);
  ASSERT_EQ(nx_timer_start(b, 0, 0), NX_EBADHANDLE);
  ASSERT_OK(nx_timer_free(a));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(timer_attachment_freed_once) {
  struct owned idle;
  struct owned active;
  struct owned threaded;
  struct owned refused;
  nx_loop_t *loop;
  nx_loop_t *started;
  nx_timer_t *stopped_timer;
  nx_timer_t *active_timer;
  nx_timer_t *threaded_timer;
  nx_timer_t *untouched = (nx_timer_t *)&refused;
  nx_timer_t *out;
  pthread_t loop_thread;

  /* Repeated runs free nothing; the loop's termination (nx_loop_free of a caller-driven loop,
   * here) closes its timers, active or not, and frees their attachments on this thread. */
  ASSERT_OK(nx_loop_new(&loop));
  stopped_timer = owned_timer(loop, &idle);
  active_timer = owned_timer(loop, &active);
  ASSERT_OK(nx_timer_start(active_timer, 0, 1));
  while (t_load(&active.runs) < 3)
    ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(active.freed.count, 0);
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(idle.freed.count, 1);
  ASSERT_EQ(active.freed.count, 1);
  ASSERT(pthread_equal(active.freed.thread, pthread_self()));
  ASSERT_EQ(nx_timer_start(active_timer, 0, 0), NX_ECLOSED);
  ASSERT_OK(nx_timer_free(stopped_timer));
  ASSERT_OK(nx_timer_free(active_timer));
  ASSERT_EQ(idle.freed.count, 1);
  ASSERT_EQ(active.freed.count, 1);

  /* A library-driven loop closes its timers on its own thread when it terminates. */
  ASSERT_OK(nx_loop_start(&started));
  loop_thread = t_loop_thread(started);
  threaded_timer = owned_timer(started, &threaded);
  ASSERT_OK(nx_timer_start(threaded_timer, 60000, 0));
  t_stop_loop(started);
  ASSERT_EQ(threaded.freed.count, 1);
  ASSERT(pthread_equal(threaded.freed.thread, loop_thread));
  ASSERT_OK(nx_timer_free(threaded_timer));

  /* A refused nx_timer_new keeps nothing and frees nothing. */
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_close(loop));
  memset(&refused, 0, sizeof(refused));
  out = untouched;
  ASSERT_EQ(nx_timer_new(loop, on_fire, &refused, t_record_free, &out), NX_EREJECTED);
  ASSERT(out == untouched);
  ASSERT_EQ(refused.freed.count, 0);
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_EQ(refused.freed.count, 0);
  return 0;
}

/* Every nx_timer_* call on `timer` returns `code` and leaves its out-parameter alone. */
static void every_call_fails(nx_timer_t *timer, int code) {
  int64_t value = 7;
  ASSERT_EQ(nx_timer_start(timer, 0, 0), code);
  ASSERT_EQ(nx_timer_stop(timer), code);
  ASSERT_EQ(nx_timer_again(timer), code);
  ASSERT_EQ(nx_timer_set_repeat(timer, 0), code);
  ASSERT_EQ(nx_timer_repeat(timer, &value), code);
  ASSERT_EQ(nx_timer_due_in(timer, &value), code);
  ASSERT_EQ(value, 7);
  ASSERT_EQ(nx_timer_is_active(timer), code);
  ASSERT_EQ(nx_timer_set_ref(timer, 1), code);
  ASSERT_EQ(nx_timer_has_ref(timer), code);
  ASSERT_EQ(nx_timer_close(timer), code);
  ASSERT_EQ(nx_timer_free(timer), code);
}

TEST_IMPL(timer_handle_misuse) {
  nx_loop_t *loop;
  nx_timer_t *timer;
  nx_timer_t *out = NULL;
  nx_promise_t *promise;
  int64_t value = 7;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_promise_new(loop, &promise));

  /* NULL. */
  ASSERT_EQ(nx_timer_new(NULL, on_fire, NULL, NULL, &out), NX_EINVAL);
  ASSERT_EQ(nx_timer_new(loop, NULL, NULL, NULL, &out), NX_EINVAL);
  ASSERT_EQ(nx_timer_new(loop, on_fire, NULL, NULL, NULL), NX_EINVAL);
  ASSERT_NULL(out);
  every_call_fails(NULL, NX_EINVAL);

  /* Bad arguments on a live timer change nothing. */
  ASSERT_OK(nx_timer_new(loop, on_fire, NULL, NULL, &timer));
  ASSERT_EQ(nx_timer_repeat(timer, NULL), NX_EINVAL);
  ASSERT_EQ(nx_timer_due_in(timer, NULL), NX_EINVAL);
  ASSERT_EQ(nx_timer_start(timer, 10, -1), NX_EINVAL);
  ASSERT_EQ(nx_timer_is_active(timer), 0);
  ASSERT_EQ(nx_timer_set_repeat(timer, -1), NX_EINVAL);
  ASSERT_OK(nx_timer_repeat(timer, &value));
  ASSERT_EQ(value, 0);

  /* A handle of another type. */
  ASSERT_EQ(nx_timer_start((nx_timer_t *)loop, 0, 0), NX_EINVAL);
  ASSERT_EQ(nx_timer_free((nx_timer_t *)promise), NX_EINVAL);
  ASSERT_EQ(nx_timer_new((nx_loop_t *)timer, on_fire, NULL, NULL, &out), NX_EINVAL);
  ASSERT_EQ(nx_loop_run((nx_loop_t *)timer, NX_RUN_NOWAIT), NX_EINVAL);
  ASSERT_EQ(nx_promise_free((nx_promise_t *)timer), NX_EINVAL);
  ASSERT_EQ(nx_watch_free((nx_watch_t *)timer), NX_EINVAL);
  ASSERT_OK(nx_timer_start(timer, 60000, 0)); /* still works */
  ASSERT_EQ(nx_timer_is_active(timer), 1);

  /* After free: NX_EBADHANDLE, a second free included. */
  ASSERT_OK(nx_timer_free(timer));
  every_call_fails(timer, NX_EBADHANDLE);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0); /* the freed timer was closed */
  ASSERT_OK(nx_promise_free(promise));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* A task that blocks the loop's thread until *release is set (bounded). */
static int hold_task(nx_loop_t *loop, void *release) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  (void)loop;
  while (!t_load(release) && t_now_ms() < deadline)
    t_sleep_ms(1);
  return 0;
}

TEST_IMPL(timer_other_threads_and_shutdown) {
  struct owned o;
  struct owned late;
  nx_loop_t *loop;
  nx_timer_t *timer;
  nx_timer_t *out = NULL;
  pthread_t loop_thread;
  int64_t start;
  int release = 0;
  int runs;
  ASSERT_OK(nx_loop_start(&loop));
  loop_thread = t_loop_thread(loop);
  timer = owned_timer(loop, &o);

  /* Started from this thread while the loop waits with no deadline: the start wakes it. */
  start = t_now_ms();
  ASSERT_OK(nx_timer_start(timer, 20, 0));
  t_wait_for(&o.runs, 1);
  ASSERT_GE(t_now_ms() - start, 20);
  ASSERT(pthread_equal(o.ran_on, loop_thread));

  /* Stopped from this thread before it fires: it never runs. */
  ASSERT_OK(nx_timer_start(timer, 100, 0));
  ASSERT_OK(nx_timer_stop(timer));
  t_sleep_ms(150);
  ASSERT_EQ(t_load(&o.runs), 1);

  /* A repeating timer stopped from here: no expiry starts once the stop returned (one that
   * had started may still finish). */
  ASSERT_OK(nx_timer_start(timer, 0, 2));
  t_wait_for(&o.runs, 4);
  ASSERT_OK(nx_timer_stop(timer));
  runs = t_load(&o.runs);
  t_sleep_ms(30);
  ASSERT_LE(t_load(&o.runs), runs + 1);

  /* While the loop shuts down, other threads can neither start timers nor make them. */
  ASSERT_OK(nx_loop_execute(loop, hold_task, &release, NULL));
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_EQ(nx_timer_start(timer, 0, 0), NX_EREJECTED);
  memset(&late, 0, sizeof(late));
  ASSERT_EQ(nx_timer_new(loop, on_fire, &late, t_record_free, &out), NX_EREJECTED);
  ASSERT_NULL(out);
  t_store(&release, 1);
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_EQ(o.freed.count, 1); /* closed by the termination */
  ASSERT_EQ(nx_timer_start(timer, 0, 0), NX_ECLOSED);
  ASSERT_EQ(late.freed.count, 0);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* Blocks the loop's thread until the struct's release is set (bounded), saying when it holds. */
struct hold {
  int holding;
  int release;
};

static int hold_and_say(nx_loop_t *loop, void *arg) {
  struct hold *h = arg;
  t_store(&h->holding, 1);
  return hold_task(loop, &h->release);
}

/* A stop from another thread while the loop runs is queued to the loop, yet once it returned
 * no later expiry starts: here the timer is overdue while the loop is held, and the loop's
 * next timer phase comes before the queued stop. */
TEST_IMPL(timer_stop_from_another_thread_prevents_the_next_expiry) {
  struct owned o;
  struct hold h = {0, 0};
  nx_loop_t *loop;
  nx_timer_t *timer;
  int ran = 0;
  int runs;
  ASSERT_OK(nx_loop_start(&loop));
  timer = owned_timer(loop, &o);
  ASSERT_OK(nx_timer_start(timer, 1, 1));
  t_wait_for(&o.runs, 2);
  ASSERT_OK(nx_loop_execute(loop, hold_and_say, &h, NULL));
  t_wait_for(&h.holding, 1);
  t_sleep_ms(5);
  ASSERT_OK(nx_timer_stop(timer));
  runs = t_load(&o.runs);
  ASSERT_EQ(nx_timer_is_active(timer), 0); /* at once */
  t_store(&h.release, 1);
  t_sleep_ms(30);
  ASSERT_OK(nx_loop_execute(loop, t_count_task, &ran, NULL));
  t_wait_for(&ran, 1);
  ASSERT_EQ(t_load(&o.runs), runs);
  ASSERT_EQ(nx_timer_is_active(timer), 0);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_loop_shutdown_gracefully(loop, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_await_termination(loop, T_LIMIT_MS));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

static nx_loop_t *g_loop;
static nx_timer_t *g_timer;
static struct owned g_owned;

static int child_refuses_then_frees(void) {
  nx_timer_t *fresh_timer;
  nx_loop_t *fresh;
  struct owned o;
  int64_t value;
  ASSERT_EQ(nx_timer_start(g_timer, 0, 0), NX_EFORKED);
  ASSERT_EQ(nx_timer_stop(g_timer), NX_EFORKED);
  ASSERT_EQ(nx_timer_again(g_timer), NX_EFORKED);
  ASSERT_EQ(nx_timer_set_repeat(g_timer, 1), NX_EFORKED);
  ASSERT_EQ(nx_timer_repeat(g_timer, &value), NX_EFORKED);
  ASSERT_EQ(nx_timer_due_in(g_timer, &value), NX_EFORKED);
  ASSERT_EQ(nx_timer_is_active(g_timer), NX_EFORKED);
  ASSERT_EQ(nx_timer_set_ref(g_timer, 0), NX_EFORKED);
  ASSERT_EQ(nx_timer_has_ref(g_timer), NX_EFORKED);
  ASSERT_EQ(nx_timer_new(g_loop, on_fire, NULL, NULL, &fresh_timer), NX_EFORKED);
  ASSERT_OK(nx_timer_close(g_timer)); /* allowed, and does nothing here */
  /* New loops and timers work in the child. */
  ASSERT_OK(nx_loop_new(&fresh));
  fresh_timer = owned_timer(fresh, &o);
  ASSERT_OK(nx_timer_start(fresh_timer, 0, 0));
  ASSERT_EQ(nx_loop_run(fresh, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(o.runs, 1);
  ASSERT_OK(nx_timer_free(fresh_timer));
  ASSERT_OK(nx_loop_free(fresh));
  /* Freeing the parent's timer here is allowed. */
  ASSERT_OK(nx_timer_free(g_timer));
  return 0;
}

TEST_IMPL(timer_fork_child) {
  ASSERT_OK(nx_loop_new(&g_loop));
  g_timer = owned_timer(g_loop, &g_owned);
  ASSERT_OK(nx_timer_start(g_timer, 60000, 0));

  ASSERT_OK(t_in_child(child_refuses_then_frees));

  /* The parent's timer still works. */
  ASSERT_EQ(nx_timer_is_active(g_timer), 1);
  ASSERT_OK(nx_timer_start(g_timer, 0, 0));
  ASSERT_EQ(nx_loop_run(g_loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(g_owned.runs, 1);
  ASSERT_EQ(g_owned.freed.count, 0);
  ASSERT_OK(nx_timer_free(g_timer));
  ASSERT_EQ(g_owned.freed.count, 1);
  ASSERT_OK(nx_loop_free(g_loop));
  return 0;
}
