/*
 * runner.c: nx_run_tests, the runner of the C tests (libuv's test/runner.c, adapted).
 *
 *   nx_run_tests                    lists the tests, one name a line
 *   nx_run_tests NAME               runs test NAME in a forked child with a timeout
 *   nx_run_tests --all              runs every test that way, one after the other
 *   nx_run_tests --no-fork NAME     runs NAME in this process (for gdb)
 *
 * Exit status: 0 passed, 7 (TEST_SKIP) skipped, 1 failed, 2 usage error.
 *
 * Each test runs in its own process. Before the test the child records its open descriptors
 * (/proc/self/fd), its threads (/proc/self/task) and, in builds with NX_TESTING, the counts of
 * live nioxide handles and of live pipeline byte buffers; afterwards it compares, polling for up to NX_TEST_GRACE_MS (default
 * 2000) milliseconds so that threads nioxide is stopping can exit, and fails the test on any
 * difference. The parent kills a child that runs longer than NX_TEST_TIMEOUT seconds
 * (default 30).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "task.h"

#define TEST_ENTRY(name) int run_test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY

typedef struct {
  const char *name;
  int (*run)(void);
} test_entry;

static const test_entry TESTS[] = {
#define TEST_ENTRY(name) {#name, run_test_##name},
#include "test-list.h"
#undef TEST_ENTRY
};

#define TEST_COUNT (sizeof(TESTS) / sizeof(TESTS[0]))

/* ------------------------------------------------------------------------------------------ */
/* Assertion failures (declared in task.h). */

void nx_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list args;
  fprintf(stderr, "%s:%d: ", file, line);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

/* Prints `value`, with its NX_E* or errno name and text when it is an error code. */
static void print_value(const char *label, int64_t value) {
  fprintf(stderr, "  %s %" PRId64, label, value);
  if (value < 0 && value >= INT_MIN) {
    const char *name = nx_err_name((int)value);
    if (strcmp(name, "UNKNOWN") != 0)
      fprintf(stderr, " (%s: %s)", name, nx_strerror((int)value));
  }
  fputc('\n', stderr);
}

void nx_test_fail_int(const char *file, int line, const char *expr, int64_t left,
                      int64_t right) {
  fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
  print_value("left: ", left);
  print_value("right:", right);
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

/* ------------------------------------------------------------------------------------------ */
/* What a test must leave as it found it. */

typedef struct {
  int *fds; /* sorted */
  size_t fd_count;
  long threads;
  long handles; /* -1 when the library has no handle counter */
  long buffers; /* pipeline byte buffers; -1 without the counter */
} snapshot;

static int compare_ints(const void *a, const void *b) {
  int x = *(const int *)a;
  int y = *(const int *)b;
  return (x > y) - (x < y);
}

static void snapshot_free(snapshot *s) {
  free(s->fds);
  s->fds = NULL;
  s->fd_count = 0;
}

static int snapshot_take(snapshot *s) {
  DIR *dir;
  struct dirent *entry;
  size_t capacity = 64;

  memset(s, 0, sizeof(*s));
  s->fds = malloc(capacity * sizeof(int));
  if (s->fds == NULL)
    return -1;
  dir = opendir("/proc/self/fd");
  if (dir == NULL)
    return -1;
  while ((entry = readdir(dir)) != NULL) {
    int fd;
    if (entry->d_name[0] == '.')
      continue;
    fd = atoi(entry->d_name);
    if (fd == dirfd(dir))
      continue;
    if (s->fd_count == capacity) {
      int *more = realloc(s->fds, 2 * capacity * sizeof(int));
      if (more == NULL) {
        closedir(dir);
        return -1;
      }
      s->fds = more;
      capacity *= 2;
    }
    s->fds[s->fd_count++] = fd;
  }
  closedir(dir);
  qsort(s->fds, s->fd_count, sizeof(int), compare_ints);

  dir = opendir("/proc/self/task");
  if (dir == NULL)
    return -1;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] != '.')
      s->threads++;
  }
  closedir(dir);

#if defined(NX_TESTING)
  s->handles = (long)nx_debug_live_handles();
  s->buffers = (long)nx_debug_live_buffers();
#else
  s->handles = -1;
  s->buffers = -1;
#endif
  return 0;
}

static bool snapshot_equal(const snapshot *a, const snapshot *b) {
  return a->fd_count == b->fd_count &&
         memcmp(a->fds, b->fds, a->fd_count * sizeof(int)) == 0 &&
         a->threads == b->threads && a->handles == b->handles && a->buffers == b->buffers;
}

static bool contains(const snapshot *s, int fd) {
  return bsearch(&fd, s->fds, s->fd_count, sizeof(int), compare_ints) != NULL;
}

static void report_difference(const snapshot *before, const snapshot *after) {
  size_t i;
  for (i = 0; i < after->fd_count; i++) {
    int fd = after->fds[i];
    if (!contains(before, fd)) {
      char path[64];
      char target[PATH_MAX];
      ssize_t n;
      snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
      n = readlink(path, target, sizeof(target) - 1);
      target[n < 0 ? 0 : n] = '\0';
      fprintf(stderr, "  descriptor %d left open: %s\n", fd, target);
    }
  }
  for (i = 0; i < before->fd_count; i++) {
    if (!contains(after, before->fds[i]))
      fprintf(stderr, "  descriptor %d, open before the test, was closed by it\n",
              before->fds[i]);
  }
  if (before->threads != after->threads)
    fprintf(stderr, "  threads: %ld before the test, %ld after it\n", before->threads,
            after->threads);
  if (before->handles != after->handles)
    fprintf(stderr, "  live nioxide handles: %ld before the test, %ld after it\n",
            before->handles, after->handles);
  if (before->buffers != after->buffers)
    fprintf(stderr, "  live pipeline buffers: %ld before the test, %ld after it\n",
            before->buffers, after->buffers);
}

/* ------------------------------------------------------------------------------------------ */
/* Running. */

static long env_long(const char *name, long fallback) {
  const char *text = getenv(name);
  char *end;
  long value;
  if (text == NULL || *text == '\0')
    return fallback;
  value = strtol(text, &end, 10);
  return (*end == '\0' && value > 0) ? value : fallback;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Runs `test` in this process and checks what it left behind; returns the exit status. */
static int run_here(const test_entry *test) {
  snapshot before;
  snapshot after;
  int64_t deadline;
  int status;

  if (snapshot_take(&before) != 0) {
    fprintf(stderr, "%s: cannot read /proc/self: %s\n", test->name, strerror(errno));
    return 1;
  }
  status = test->run();
  if (status == TEST_SKIP) {
    snapshot_free(&before);
    return TEST_SKIP;
  }
  if (status != 0) {
    fprintf(stderr, "%s: returned %d\n", test->name, status);
    snapshot_free(&before);
    return 1;
  }

  deadline = now_ms() + env_long("NX_TEST_GRACE_MS", 2000);
  for (;;) {
    if (snapshot_take(&after) != 0) {
      fprintf(stderr, "%s: cannot read /proc/self: %s\n", test->name, strerror(errno));
      status = 1;
      break;
    }
    if (snapshot_equal(&before, &after))
      break;
    if (now_ms() >= deadline) {
      fprintf(stderr, "%s: the test left the process changed:\n", test->name);
      report_difference(&before, &after);
      status = 1;
      break;
    }
    snapshot_free(&after);
    sleep_ms(10);
  }
  snapshot_free(&after);
  snapshot_free(&before);
  return status;
}

/* Runs `test` in a forked child with a timeout; returns its exit status (0, 1 or 7). */
static int run_forked(const test_entry *test) {
  long timeout_s = env_long("NX_TEST_TIMEOUT", 30);
  int64_t deadline = now_ms() + timeout_s * 1000;
  pid_t pid;
  int status;

  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "%s: fork: %s\n", test->name, strerror(errno));
    return 1;
  }
  if (pid == 0) {
    int code = run_here(test);
    fflush(stdout);
    fflush(stderr);
    exit(code); /* exit, not _exit: sanitizers and valgrind check leaks at exit */
  }

  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid)
      break;
    if (done < 0 && errno != EINTR) {
      fprintf(stderr, "%s: waitpid: %s\n", test->name, strerror(errno));
      return 1;
    }
    if (now_ms() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      fprintf(stderr, "%s: timed out after %ld s (NX_TEST_TIMEOUT)\n", test->name, timeout_s);
      return 1;
    }
    sleep_ms(5);
  }

  if (WIFSIGNALED(status)) {
    fprintf(stderr, "%s: killed by signal %d (%s)\n", test->name, WTERMSIG(status),
            strsignal(WTERMSIG(status)));
    return 1;
  }
  if (!WIFEXITED(status))
    return 1;
  if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != TEST_SKIP) {
    if (WEXITSTATUS(status) != 1)
      fprintf(stderr, "%s: exited with status %d\n", test->name, WEXITSTATUS(status));
    return 1;
  }
  return WEXITSTATUS(status);
}

/* Prints the TAP-like result line of one test. */
static void print_result(const test_entry *test, int status) {
  if (status == 0)
    printf("ok - %s\n", test->name);
  else if (status == TEST_SKIP)
    printf("ok - %s # SKIP\n", test->name);
  else
    printf("not ok - %s\n", test->name);
  fflush(stdout);
}

static const test_entry *find_test(const char *name) {
  size_t i;
  for (i = 0; i < TEST_COUNT; i++) {
    if (strcmp(TESTS[i].name, name) == 0)
      return &TESTS[i];
  }
  return NULL;
}

static int run_all(void) {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  size_t i;
  for (i = 0; i < TEST_COUNT; i++) {
    int status = run_forked(&TESTS[i]);
    print_result(&TESTS[i], status);
    if (status == 0)
      passed++;
    else if (status == TEST_SKIP)
      skipped++;
    else
      failed++;
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s                 list the tests\n"
          "       %s NAME            run one test (forked, with a timeout)\n"
          "       %s --all           run every test\n"
          "       %s --no-fork NAME  run one test in this process\n",
          argv0, argv0, argv0, argv0);
  return 2;
}

int main(int argc, char **argv) {
  const test_entry *test;
  bool fork_it = true;
  int status;
  int arg = 1;

  if (argc == 1) {
    size_t i;
    for (i = 0; i < TEST_COUNT; i++)
      puts(TESTS[i].name);
    return 0;
  }
  if (strcmp(argv[arg], "--all") == 0 && argc == 2)
    return run_all();
  if (strcmp(argv[arg], "--no-fork") == 0) {
    fork_it = false;
    arg++;
  }
  if (arg != argc - 1 || argv[arg][0] == '-')
    return usage(argv[0]);

  test = find_test(argv[arg]);
  if (test == NULL) {
    fprintf(stderr, "%s: no test named \"%s\" (run without arguments for the list)\n", argv[0],
            argv[arg]);
    return 2;
  }
  status = fork_it ? run_forked(test) : run_here(test);
  print_result(test, status);
  return status;
}
