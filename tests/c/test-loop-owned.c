/* Objects that belong to a loop (timers, watches): calls from the loop's running thread are
 * checked with loads alone (no reader count); a free from another thread retires the handle at
 * once and leaves the object whole until the loop's turn ends; objects outlive their loop's
 * termination and are freed after it; a child forked inside a callback takes the checked path
 * (NX_EFORKED). */
#include "loop-helpers.h"

struct fast_check {
  nx_timer_t *timer;
  nx_watch_t *watch;
  uint64_t reader_entries; /* taken by the calls made in the callback */
  int results[6];
  int runs;
};

static void on_fast_fire(nx_timer_t *timer, void *arg) {
  struct fast_check *c = arg;
  uint64_t before = nx_debug_reader_entries();
  c->results[0] = nx_timer_is_active(timer);
  c->results[1] = nx_timer_start(timer, 60000, 0);
  c->results[2] = nx_timer_is_active(timer);
  c->results[3] = nx_timer_stop(timer);
  c->results[4] = nx_watch_is_active(c->watch);
  c->results[5] = nx_watch_set_interest(c->watch, 0);
  c->reader_entries = nx_debug_reader_entries() - before;
  c->runs++;
}

static void on_ready(nx_watch_t *watch, uint32_t ready_ops, void *attachment) {
  (void)watch;
  (void)ready_ops;
  (void)attachment;
}

TEST_IMPL(loop_owned_fast_path_on_the_running_thread) {
  struct fast_check c;
  nx_loop_t *loop;
  int fds[2];
  uint64_t before;
  memset(&c, 0, sizeof(c));
  ASSERT_OK(pipe(fds));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_timer_new(loop, on_fast_fire, &c, NULL, &c.timer));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, NULL, NULL, &c.watch));
  ASSERT_OK(nx_watch_set_ref(c.watch, 0));
  /* The owner between runs does not run the loop: the checked path, with a reader count. */
  before = nx_debug_reader_entries();
  ASSERT_EQ(nx_timer_is_active(c.timer), 0);
  ASSERT_GT(nx_debug_reader_entries(), before);
  ASSERT_OK(nx_timer_start(c.timer, 0, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(c.runs, 1);
  ASSERT_EQ(c.results[0], 0);
  ASSERT_EQ(c.results[1], 0);
  ASSERT_EQ(c.results[2], 1);
  ASSERT_EQ(c.results[3], 0);
  ASSERT_EQ(c.results[4], 1);
  ASSERT_EQ(c.results[5], 0);
  ASSERT_EQ(c.reader_entries, 0); /* six calls, no reader count */
  ASSERT_OK(nx_watch_free(c.watch));
  ASSERT_OK(nx_timer_free(c.timer));
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

/* A timer freed by another thread while its callback runs: the free returns at once, later
 * calls in the callback fail with NX_EBADHANDLE, and the attachment is freed once, on the
 * loop's thread after the callback (the free closed a timer whose callback was running). */
struct freed_in_callback {
  struct t_freed freed; /* first: t_record_free counts here */
  nx_timer_t *timer;
  int during;
  int after;
  int freed_during;
};

static void *free_timer(void *arg) {
  struct freed_in_callback *f = arg;
  ASSERT_OK(nx_timer_free(f->timer));
  return NULL;
}

static void on_freed_fire(nx_timer_t *timer, void *arg) {
  struct freed_in_callback *f = arg;
  pthread_t other;
  f->during = nx_timer_is_active(timer);
  ASSERT_OK(pthread_create(&other, NULL, free_timer, f));
  ASSERT_OK(pthread_join(other, NULL));
  f->after = nx_timer_is_active(timer);
  f->freed_during = t_load(&f->freed.count);
}

TEST_IMPL(loop_owned_free_from_another_thread_during_its_callback) {
  struct freed_in_callback f;
  nx_loop_t *loop;
  size_t live_before;
  size_t live_after;
  memset(&f, 0, sizeof(f));
  ASSERT_OK(nx_live_handles(NX_HANDLE_TIMER, &live_before));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_timer_new(loop, on_freed_fire, &f, t_record_free, &f.timer));
  ASSERT_OK(nx_timer_start(f.timer, 0, 1)); /* repeating: only the free stops it */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(f.during, 1);
  ASSERT_EQ(f.after, NX_EBADHANDLE);
  ASSERT_EQ(f.freed_during, 0);
  ASSERT_EQ(f.freed.count, 1);
  ASSERT(pthread_equal(f.freed.thread, pthread_self()));
  ASSERT_OK(nx_live_handles(NX_HANDLE_TIMER, &live_after));
  ASSERT_EQ(live_after, live_before);
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* Timers and watches outlive their loop: freed after its termination (and after nx_loop_free)
 * they are reclaimed on the freeing thread; every call before the free answers as for a closed
 * object. */
TEST_IMPL(loop_owned_objects_freed_after_their_loop) {
  struct t_freed watch_freed;
  nx_loop_t *loop;
  nx_timer_t *timer;
  nx_watch_t *watch;
  size_t live_before;
  size_t live_after;
  int fds[2];
  memset(&watch_freed, 0, sizeof(watch_freed));
  ASSERT_OK(pipe(fds));
  ASSERT_OK(nx_live_handles(NX_HANDLE_ALL, &live_before));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_timer_new(loop, on_fast_fire, NULL, NULL, &timer));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, &watch_freed, t_record_free,
                             &watch));
  ASSERT_OK(nx_timer_start(timer, 60000, 0));
  ASSERT_OK(nx_loop_free(loop)); /* terminates it: closes the timer and the watch */
  ASSERT_EQ(watch_freed.count, 1);
  ASSERT_EQ(nx_timer_is_active(timer), 0);
  ASSERT_EQ(nx_timer_start(timer, 0, 0), NX_ECLOSED);
  ASSERT_EQ(nx_watch_is_active(watch), 0);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_EQ(nx_timer_is_active(timer), NX_EBADHANDLE);
  ASSERT_EQ(watch_freed.count, 1);
  ASSERT_OK(nx_live_handles(NX_HANDLE_ALL, &live_after));
  ASSERT_EQ(live_after, live_before);
  close(fds[0]);
  close(fds[1]);
  return 0;
}

/* Frees from several threads while a library loop runs the objects' callbacks and then shuts
 * down: every handle is retired once and every attachment freed once. */
#define RACE_TIMERS 32

static void on_race_fire(nx_timer_t *timer, void *arg) {
  (void)arg;
  (void)nx_timer_is_active(timer); /* NX_EBADHANDLE once another thread freed it */
}

struct race_slice {
  nx_timer_t **timers;
  int count;
};

static void *free_slice(void *arg) {
  struct race_slice *s = arg;
  for (int i = 0; i < s->count; i++)
    ASSERT_OK(nx_timer_free(s->timers[i]));
  return NULL;
}

TEST_IMPL(loop_owned_frees_racing_the_loop_and_its_termination) {
  struct t_freed freed[RACE_TIMERS];
  nx_timer_t *timers[RACE_TIMERS];
  struct race_slice slices[4];
  pthread_t threads[4];
  nx_loop_t *loop;
  size_t live_before;
  size_t live_after;
  memset(freed, 0, sizeof(freed));
  ASSERT_OK(nx_live_handles(NX_HANDLE_TIMER, &live_before));
  ASSERT_OK(nx_loop_start(&loop));
  for (int i = 0; i < RACE_TIMERS; i++) {
    ASSERT_OK(nx_timer_new(loop, on_race_fire, &freed[i], t_record_free, &timers[i]));
    ASSERT_OK(nx_timer_start(timers[i], 0, 1));
  }
  for (int i = 0; i < 4; i++) {
    slices[i].timers = timers + i * (RACE_TIMERS / 4);
    slices[i].count = RACE_TIMERS / 4;
    ASSERT_OK(pthread_create(&threads[i], NULL, free_slice, &slices[i]));
  }
  ASSERT_OK(nx_loop_shutdown_now(loop));
  for (int i = 0; i < 4; i++)
    ASSERT_OK(pthread_join(threads[i], NULL));
  ASSERT_OK(nx_loop_await_termination(loop, 5000));
  for (int i = 0; i < RACE_TIMERS; i++)
    ASSERT_EQ(freed[i].count, 1);
  ASSERT_OK(nx_loop_free(loop));
  ASSERT_OK(nx_live_handles(NX_HANDLE_TIMER, &live_after));
  ASSERT_EQ(live_after, live_before);
  return 0;
}

/* A child forked inside a timer callback runs no loop: its calls take the checked path and
 * answer NX_EFORKED; it may free the parent's timer. The parent's loop goes on. */
struct forked {
  int child_status;
  int runs;
};

static void on_fork_fire(nx_timer_t *timer, void *arg) {
  struct forked *f = arg;
  pid_t pid;
  f->runs++;
  pid = fork();
  if (pid == 0) {
    alarm(5);
    int ok = nx_timer_is_active(timer) == NX_EFORKED && nx_timer_start(timer, 0, 0) == NX_EFORKED &&
             nx_timer_free(timer) == 0 && nx_timer_is_active(timer) == NX_EBADHANDLE;
    _exit(ok ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_EQ(waitpid(pid, &f->child_status, 0), pid);
  ASSERT_EQ(nx_timer_is_active(timer), 0); /* the parent's timer is untouched */
}

TEST_IMPL(loop_owned_fork_inside_a_callback) {
  struct forked f;
  nx_loop_t *loop;
  nx_timer_t *timer;
  memset(&f, 0, sizeof(f));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_timer_new(loop, on_fork_fire, &f, NULL, &timer));
  ASSERT_OK(nx_timer_start(timer, 0, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(f.runs, 1);
  ASSERT(WIFEXITED(f.child_status));
  ASSERT_EQ(WEXITSTATUS(f.child_status), 0);
  ASSERT_OK(nx_timer_start(timer, 0, 0));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(f.runs, 2);
  ASSERT_OK(nx_timer_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
