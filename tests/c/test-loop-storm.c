/* A cross-thread storm: 4 threads each queue 100,000 tasks on one library-driven loop, each
 * task carrying its producer and a sequence number. None may be lost, run twice or run out
 * of its producer's order. (Under valgrind it takes about 7 s of the 240 s allowed.) Then: a
 * loop that just ran a stream of tasks spins only briefly before it blocks. */
#include "loop-helpers.h"

#include <sys/syscall.h>

#define PRODUCERS 4
#define TASKS 100000

struct storm {
  nx_loop_t *loop;
  long tasks;
  /* Touched by the loop's thread only. */
  uint64_t next[PRODUCERS];
  long errors;
  /* Read by the test's thread. */
  long done;
};

static struct storm g_storm;

struct producer {
  int index;
  int rc;
  pthread_t thread;
};

static int storm_task(nx_loop_t *loop, void *arg) {
  uintptr_t tag = (uintptr_t)arg;
  int producer = (int)(tag >> 40);
  uint64_t seq = tag & ((UINT64_C(1) << 40) - 1);
  (void)loop;
  if (g_storm.next[producer] != seq)
    g_storm.errors++;
  g_storm.next[producer] = seq + 1;
  __atomic_fetch_add(&g_storm.done, 1, __ATOMIC_RELEASE);
  return 0;
}

static void *produce(void *arg) {
  struct producer *p = arg;
  long i;
  for (i = 0; i < g_storm.tasks; i++) {
    uintptr_t tag = ((uintptr_t)p->index << 40) | (uintptr_t)i;
    int rc = nx_loop_execute(g_storm.loop, storm_task, (void *)tag, NULL);
    if (rc != 0) {
      p->rc = rc;
      break;
    }
  }
  return NULL;
}

TEST_IMPL(loop_cross_thread_storm) {
  struct producer producers[PRODUCERS];
  long total;
  int64_t deadline;
  int i;
  memset(&g_storm, 0, sizeof(g_storm));
  g_storm.tasks = TASKS;
  total = g_storm.tasks * PRODUCERS;
  ASSERT_OK(nx_loop_start(&g_storm.loop));
  for (i = 0; i < PRODUCERS; i++) {
    producers[i].index = i;
    producers[i].rc = 0;
    ASSERT_OK(pthread_create(&producers[i].thread, NULL, produce, &producers[i]));
  }
  for (i = 0; i < PRODUCERS; i++) {
    ASSERT_OK(pthread_join(producers[i].thread, NULL));
    ASSERT_OK(producers[i].rc);
  }
  deadline = t_now_ms() + 60000;
  while (__atomic_load_n(&g_storm.done, __ATOMIC_ACQUIRE) < total) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(2);
  }
  /* Let anything extra (a duplicate) show up before the loop stops. */
  ASSERT_OK(nx_loop_shutdown_gracefully(g_storm.loop, 0, T_LIMIT_MS));
  ASSERT_OK(nx_loop_await_termination(g_storm.loop, T_LIMIT_MS));
  ASSERT_EQ(__atomic_load_n(&g_storm.done, __ATOMIC_ACQUIRE), total); /* none lost or extra */
  ASSERT_EQ(g_storm.errors, 0); /* none duplicated or reordered */
  for (i = 0; i < PRODUCERS; i++)
    ASSERT_EQ(g_storm.next[i], (uint64_t)g_storm.tasks);
  ASSERT_EQ(t_loop_counter(g_storm.loop, NX_LOOP_COUNTER_TASKS_RUN), (uint64_t)total);
  ASSERT_OK(nx_loop_free(g_storm.loop));
  return 0;
}

/* A task that records the thread it runs on and counts. */
struct stream {
  long tid;
  int done;
};

static int stream_task(nx_loop_t *loop, void *arg) {
  struct stream *s = arg;
  (void)loop;
  __atomic_store_n(&s->tid, (long)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&s->done, 1, __ATOMIC_SEQ_CST);
  return 0;
}

/* The CPU time (user + system, in clock ticks) thread `tid` of this process used so far. */
static long thread_cpu_ticks(long tid) {
  char path[64], buf[1024];
  const char *p;
  long utime = -1, stime = -1;
  size_t n;
  int field;
  FILE *f;
  snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Fields after the command name (in parentheses, may hold spaces); utime and stime are
   * fields 14 and 15 of stat(5). */
  p = strrchr(buf, ')');
  if (p == NULL)
    return -1;
  for (field = 2; *p != '\0'; p++) {
    if (*p != ' ')
      continue;
    field++;
    if (field == 14)
      utime = strtol(p + 1, NULL, 10);
    else if (field == 15)
      stime = strtol(p + 1, NULL, 10);
  }
  return utime < 0 || stime < 0 ? -1 : utime + stime;
}

TEST_IMPL(loop_stream_then_blocks) {
  struct stream s = {0, 0};
  nx_loop_t *loop = NULL;
  long before, spent;
  int i, stream = 10000;
  ASSERT_OK(nx_loop_start(&loop));
  for (i = 0; i < stream; i++)
    ASSERT_OK(nx_loop_execute(loop, stream_task, &s, NULL));
  t_wait_for(&s.done, stream);
  before = thread_cpu_ticks(__atomic_load_n(&s.tid, __ATOMIC_SEQ_CST));
  ASSERT_GE(before, 0);
  t_sleep_ms(500);
  spent = thread_cpu_ticks(__atomic_load_n(&s.tid, __ATOMIC_SEQ_CST)) - before;
  /* Spinning through the half second would be about 50 ticks; blocking, about none. */
  ASSERT_LE(spent, 10);
  /* Blocked, it still wakes for the next task. */
  ASSERT_OK(nx_loop_execute(loop, stream_task, &s, NULL));
  t_wait_for(&s.done, stream + 1);
  t_stop_loop(loop);
  return 0;
}
