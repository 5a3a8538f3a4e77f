/* A cross-thread storm: 4 threads each queue 100,000 tasks on one library-driven loop, each
 * task carrying its producer and a sequence number. None may be lost, run twice or run out
 * of its producer's order. (Under valgrind it takes about 7 s of the 240 s allowed.) */
#include "loop-helpers.h"

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
