/*
 * net-helpers.h: what the selector and TCP tests share (loopback listeners, connected pairs,
 * bounded waits, attachment counters, proof that a thread is blocked).
 *
 * Every wait here is bounded. The helpers never make nioxide block on the test's main thread:
 * a blocking nioxide call that really waits gives its thread a wake-up eventfd for the
 * thread's lifetime (core/src/sys/wait.rs), which the runner would see as a descriptor left
 * open. Blocking calls run on threads the test joins; the main thread polls instead.
 */
#ifndef NX_NET_HELPERS_H
#define NX_NET_HELPERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "task.h"

/* The bound on every wait in the tests. */
#define T_LIMIT_MS 5000

static inline int64_t t_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void t_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* The loopback address of `family` (127.0.0.1 or ::1) with `port`; returns its length. */
static inline socklen_t t_loopback(int family, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = in6addr_loopback;
    return sizeof(*sin6);
  }
  {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*sin);
  }
}

/* The port of an address nioxide stored. */
static inline uint16_t t_port(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* A listener of `family` bound to loopback port 0; its address goes to *addr / *len. */
static inline void t_listen(int family, nx_server_socket_channel_t **server,
                            struct sockaddr_storage *addr, socklen_t *len) {
  struct sockaddr_storage bind_addr;
  socklen_t bind_len = t_loopback(family, 0, &bind_addr);
  ASSERT_OK(nx_server_socket_channel_open_family(family, server));
  ASSERT_OK(nx_server_socket_channel_bind(*server, (struct sockaddr *)&bind_addr, bind_len, 16));
  ASSERT_OK(nx_server_socket_channel_local_address(*server, addr, len));
  ASSERT_NE(t_port(addr), 0);
}

/* Polls `fd` for `events` up to `ms` milliseconds; returns the revents (0 on timeout). */
static inline short t_poll(int fd, short events, int ms) {
  struct pollfd p = {fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  ASSERT(n >= 0);
  return n == 0 ? 0 : p.revents;
}

static inline int t_socket_fd(nx_socket_channel_t *channel) {
  int fd = -1;
  ASSERT_OK(nx_socket_channel_fd(channel, &fd));
  return fd;
}

static inline int t_server_fd(nx_server_socket_channel_t *server) {
  int fd = -1;
  ASSERT_OK(nx_server_socket_channel_fd(server, &fd));
  return fd;
}

/* Accepts one connection, polling (never blocking in nioxide) for up to T_LIMIT_MS. */
static inline nx_socket_channel_t *t_accept(nx_server_socket_channel_t *server) {
  nx_socket_channel_t *peer = NULL;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  while (peer == NULL) {
    ASSERT(t_now_ms() < deadline);
    t_poll(t_server_fd(server), POLLIN, 100);
    ASSERT_OK(nx_server_socket_channel_accept(server, &peer));
  }
  return peer;
}

/* Completes a non-blocking connect started on `client`, polling for up to T_LIMIT_MS. */
static inline void t_finish_connect(nx_socket_channel_t *client) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  int rc;
  while ((rc = nx_socket_channel_finish_connect(client)) == -EINPROGRESS) {
    ASSERT(t_now_ms() < deadline);
    t_poll(t_socket_fd(client), POLLOUT, 100);
  }
  ASSERT_OK(rc);
}

/* A connected pair over `family` loopback, both channels non-blocking. */
static inline void t_pair_family(int family, nx_socket_channel_t **client,
                                 nx_socket_channel_t **peer) {
  nx_server_socket_channel_t *server;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  int rc;
  t_listen(family, &server, &addr, &len);
  ASSERT_OK(nx_socket_channel_open_family(family, client));
  ASSERT_OK(nx_socket_channel_configure_blocking(*client, 0));
  rc = nx_socket_channel_connect(*client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);
  *peer = t_accept(server);
  t_finish_connect(*client);
  ASSERT_OK(nx_socket_channel_configure_blocking(*peer, 0));
  ASSERT_OK(nx_server_socket_channel_free(server));
}

static inline void t_pair(nx_socket_channel_t **client, nx_socket_channel_t **peer) {
  t_pair_family(AF_INET, client, peer);
}

/* Writes all of buf on a non-blocking channel, polling for room. */
static inline void t_write_all(nx_socket_channel_t *channel, const void *buf, size_t len) {
  const char *at = buf;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (len > 0) {
    size_t n = 0;
    ASSERT_OK(nx_socket_channel_write(channel, at, len, &n));
    if (n == 0) {
      ASSERT(t_now_ms() < deadline);
      t_poll(t_socket_fd(channel), POLLOUT, 100);
    }
    at += n;
    len -= n;
  }
}

/* Reads exactly len bytes from a non-blocking channel, polling for data. */
static inline void t_read_exact(nx_socket_channel_t *channel, void *buf, size_t len) {
  char *at = buf;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (len > 0) {
    size_t n = 0;
    ASSERT_OK(nx_socket_channel_read(channel, at, len, &n));
    if (n == 0) {
      ASSERT(t_now_ms() < deadline);
      t_poll(t_socket_fd(channel), POLLIN, 100);
    }
    at += n;
    len -= n;
  }
}

/* An attachment_free that counts its calls in the int it is given (atomically: nioxide may
 * call it on whichever thread drops the attachment). */
static inline void t_count_free(void *counter) {
  __atomic_fetch_add((int *)counter, 1, __ATOMIC_SEQ_CST);
}

static inline int t_load(const int *value) { return __atomic_load_n(value, __ATOMIC_SEQ_CST); }

static inline void t_store(int *value, int v) { __atomic_store_n(value, v, __ATOMIC_SEQ_CST); }

static inline pid_t t_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* The scheduler state of thread `tid` of this process ('R', 'S', ...), or 0 if unknown. */
static inline char t_thread_state(pid_t tid) {
  char path[64];
  char text[512];
  size_t n;
  FILE *f;
  const char *paren;
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
  f = fopen(path, "r");
  if (f == NULL)
    return 0;
  n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  paren = strrchr(text, ')');
  return (paren != NULL && paren[1] == ' ') ? paren[2] : 0;
}

/*
 * Proves that the thread whose id is published in *tid is blocked in a call that has not
 * returned (*returned still 0): it must be asleep ('S') and stay unreturned for 100 ms.
 */
static inline void t_wait_blocked(const int *tid, const int *returned) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (t_load(tid) == 0 || t_thread_state((pid_t)t_load(tid)) != 'S') {
    ASSERT(!t_load(returned));
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(5);
  }
  t_sleep_ms(100);
  ASSERT_EQ(t_thread_state((pid_t)t_load(tid)), 'S');
  ASSERT(!t_load(returned));
}

/* Joins `thread`, which must set *returned within two seconds from now. */
static inline void t_join_soon(const int *returned, pthread_t thread) {
  int64_t deadline = t_now_ms() + 2000;
  while (!t_load(returned)) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  ASSERT_OK(pthread_join(thread, NULL));
}

/* A thread blocked in one long select (20 s: only a wakeup, a close or an event ends it). */
struct t_selecting {
  nx_selector_t *selector;
  pthread_t thread;
  int tid;
  int returned;
  int rc;
  size_t count;
};

static inline void *t_select_once(void *arg) {
  struct t_selecting *s = arg;
  t_store(&s->tid, (int)t_gettid());
  s->rc = nx_selector_select(s->selector, 20000, &s->count);
  t_store(&s->returned, 1);
  return NULL;
}

/* Starts a thread selecting on `selector` and returns once it is proven blocked there. */
static inline void t_start_blocked_select(struct t_selecting *s, nx_selector_t *selector) {
  memset(s, 0, sizeof(*s));
  s->selector = selector;
  ASSERT_OK(pthread_create(&s->thread, NULL, t_select_once, s));
  t_wait_blocked(&s->tid, &s->returned);
}

/* Joins the selecting thread, which must return within two seconds from now. */
static inline void t_join_select(struct t_selecting *s) { t_join_soon(&s->returned, s->thread); }

/* The value of one selector counter. */
static inline uint64_t t_counter(nx_selector_t *selector, int which) {
  uint64_t value = 0;
  ASSERT_OK(nx_selector_counter(selector, which, &value));
  return value;
}

/* Selects with `timeout_ms` and returns the count. */
static inline size_t t_select(nx_selector_t *selector, int64_t timeout_ms) {
  size_t count = (size_t)-1;
  ASSERT_OK(nx_selector_select(selector, timeout_ms, &count));
  return count;
}

/* Waits (bounded) for child `pid` to exit; fails unless it exited with status 0 or
 * TEST_SKIP, which it returns. A child killed by a signal is reported as such. */
static inline int t_child_passed(pid_t pid) {
  int64_t deadline = t_now_ms() + 4 * T_LIMIT_MS;
  int status = 0;
  pid_t done;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
    if (t_now_ms() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      nx_test_fail(__FILE__, __LINE__, "child %d did not finish in time", (int)pid);
    }
    t_sleep_ms(5);
  }
  ASSERT_EQ(done, pid);
  if (WIFSIGNALED(status))
    nx_test_fail(__FILE__, __LINE__, "child killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
  ASSERT(WIFEXITED(status));
  if (WEXITSTATUS(status) != TEST_SKIP)
    ASSERT_EQ(WEXITSTATUS(status), 0);
  return WEXITSTATUS(status);
}

/* A read blocked on another thread: the channel it reads, its thread id once it started,
 * whether it returned, and what it returned. */
struct t_blocked_read {
  nx_socket_channel_t *channel;
  int tid;
  int returned;
  int rc;
};

/* The thread body of a blocking read (pthread_create with a struct t_blocked_read). */
static inline void *t_blocking_read(void *arg) {
  struct t_blocked_read *b = arg;
  char buf[16];
  size_t n;
  t_store(&b->tid, (int)t_gettid());
  b->rc = nx_socket_channel_read(b->channel, buf, sizeof(buf), &n);
  t_store(&b->returned, 1);
  return NULL;
}

/* Whether the test runs under valgrind (its preloaded library is in LD_PRELOAD). */
static inline int t_under_valgrind(void) {
  const char *preload = getenv("LD_PRELOAD");
  return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

/* Forks; the child runs `body` and exits with its result (a failed assertion exits 1).
 * Returns 0, or TEST_SKIP if the child skipped. */
static inline int t_in_child(int (*body)(void)) {
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0)
    _exit(body());
  return t_child_passed(pid);
}

#endif /* NX_NET_HELPERS_H */
