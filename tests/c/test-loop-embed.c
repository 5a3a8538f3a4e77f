/* Embedding (libuv's test-embed.c idea): the test's thread is a host loop that polls the
 * backend descriptor with the backend timeout, then runs NX_RUN_NOWAIT turns. Work from
 * another thread wakes the descriptor; tasks queued from the loop's own thread do not, so
 * the backend timeout is 0 while they wait; a timer bounds the timeout. */
#include "loop-helpers.h"

#include <poll.h>

/* The timer: long enough that the other thread's task comes first, also under valgrind. */
#define TIMER_MS 1000

/* A chain of tasks, each queued by the one before it on the loop's own thread. */
struct chain {
  int left;
  int done;
};

static int chain_link(nx_loop_t *loop, void *arg) {
  struct chain *c = arg;
  if (--c->left == 0) {
    c->done = 1;
    return 0;
  }
  return nx_loop_execute(loop, chain_link, c, NULL);
}

struct remote {
  nx_loop_t *loop;
  int ran;
  int rc;
};

static int remote_task(nx_loop_t *loop, void *arg) {
  struct remote *r = arg;
  (void)loop;
  t_store(&r->ran, 1);
  return 0;
}

static void *post_later(void *arg) {
  struct remote *r = arg;
  t_sleep_ms(50);
  r->rc = nx_loop_execute(r->loop, remote_task, r, NULL);
  return NULL;
}

TEST_IMPL(loop_embed_backend_fd) {
  nx_loop_t *loop;
  nx_promise_t *timer;
  struct remote remote = {NULL, 0, 0};
  struct chain chain = {20, 0};
  pthread_t poster;
  int fired = 0;
  int fd = -1;
  int64_t timeout = 0;
  int64_t start;
  int zero_timeout_turns = 0;

  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_backend_fd(loop, &fd));
  ASSERT_GE(fd, 0);
  ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
  ASSERT_EQ(timeout, -1); /* nothing to wait for but the descriptor */
  ASSERT_EQ(t_poll(fd, POLLIN, 0), 0);

  start = t_now_ms();
  ASSERT_OK(nx_loop_schedule(loop, TIMER_MS, t_count_task, &fired, NULL, &timer));
  ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
  ASSERT_GT(timeout, 0);
  ASSERT_LE(timeout, TIMER_MS);

  /* 1. A chain of tasks, each queued by the one before it on the loop's own thread during a
   * turn: no wake-up is written for those, yet the timeout is 0, so the host never sleeps
   * while they wait. */
  ASSERT_OK(nx_loop_execute(loop, chain_link, &chain, NULL));
  while (!chain.done) {
    ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
    ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
    ASSERT_EQ(timeout, 0);
    zero_timeout_turns++;
    t_poll(fd, POLLIN, (int)timeout);
    ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  }
  ASSERT_GE(zero_timeout_turns, 5); /* a turn runs two links: one per task phase */
  ASSERT_EQ(fired, 0);

  /* 2. Work from another thread wakes the descriptor before the timer is due. */
  remote.loop = loop;
  ASSERT_OK(pthread_create(&poster, NULL, post_later, &remote));
  ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
  ASSERT_GT(timeout, 100); /* the timer's remaining time */
  ASSERT_EQ(t_poll(fd, POLLIN, (int)timeout), POLLIN);
  ASSERT_LT(t_now_ms() - start, TIMER_MS);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(t_load(&remote.ran), 1);
  ASSERT_OK(pthread_join(poster, NULL));
  ASSERT_OK(remote.rc);
  ASSERT_EQ(fired, 0);

  /* 3. The timer bounds the timeout; it never fires early. */
  while (!fired) {
    ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
    ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
    ASSERT_GE(timeout, 0);
    t_poll(fd, POLLIN, (int)timeout);
    ASSERT_GE(nx_loop_run(loop, NX_RUN_NOWAIT), 0);
  }
  ASSERT_GE(t_now_ms() - start, TIMER_MS);
  ASSERT_EQ(nx_promise_is_success(timer), 1);

  ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
  ASSERT_EQ(timeout, -1);
  ASSERT_EQ(t_poll(fd, POLLIN, 0), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_OK(nx_promise_free(timer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

/* Reads one byte per call from the pipe its attachment names. */
static void read_one(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  int *fds = arg;
  char byte;
  (void)watch;
  (void)ready_ops;
  if (read(fds[0], &byte, 1) == 1)
    fds[2]++;
}

/* A raw-descriptor watch whose callback leaves data unread: epoll reports it again only once
 * the descriptor is re-armed, so the host must be told not to wait. */
TEST_IMPL(loop_embed_raw_fd_left_unread) {
  nx_loop_t *loop;
  nx_watch_t *watch;
  int fds[3] = {-1, -1, 0}; /* read end, write end, bytes read */
  int64_t timeout = -2, deadline;
  struct pollfd pfd;
  int backend = -1;
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_backend_fd(loop, &backend));
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, read_one, fds, NULL, &watch));
  ASSERT_EQ(write(fds[1], "abc", 3), 3);
  deadline = t_now_ms() + T_LIMIT_MS;
  while (fds[2] == 0) {
    ASSERT(t_now_ms() < deadline);
    ASSERT_GE(nx_loop_run(loop, NX_RUN_NOWAIT), 0);
  }
  ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
  ASSERT_EQ(timeout, 0); /* two bytes left */
  while (fds[2] < 3) {
    ASSERT(t_now_ms() < deadline);
    ASSERT_OK(nx_loop_backend_timeout(loop, &timeout));
    pfd.fd = backend;
    pfd.events = POLLIN;
    (void)poll(&pfd, 1, timeout < 0 || timeout > 1000 ? 1000 : (int)timeout);
    ASSERT_GE(nx_loop_run(loop, NX_RUN_NOWAIT), 0);
  }
  ASSERT_OK(nx_watch_close(watch));
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}
