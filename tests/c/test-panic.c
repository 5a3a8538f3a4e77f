/* Panics: a Rust panic inside an nx_* call comes back as NX_EPANIC and the process goes on. */
#include <pthread.h>

#include "task.h"

TEST_IMPL(panic_returns_epanic) {
  ASSERT_EQ(nx_debug_panic(), NX_EPANIC);
  ASSERT_EQ(nx_debug_panic(), NX_EPANIC);
  /* The library still works after the panics. */
  ASSERT_EQ(nx_version(), NX_VERSION_HEX);
  ASSERT_STR_EQ(nx_err_name(NX_EPANIC), "NX_EPANIC");
  return 0;
}

#define THREADS 4

static void *panic_twice(void *arg) {
  int *results = arg;
  results[0] = nx_debug_panic();
  results[1] = nx_debug_panic();
  return NULL;
}

TEST_IMPL(panic_in_threads) {
  static int results[THREADS][2];
  pthread_t threads[THREADS];
  int t;
  for (t = 0; t < THREADS; t++)
    ASSERT_OK(pthread_create(&threads[t], NULL, panic_twice, results[t]));
  for (t = 0; t < THREADS; t++)
    ASSERT_OK(pthread_join(threads[t], NULL));
  for (t = 0; t < THREADS; t++) {
    ASSERT_EQ(results[t][0], NX_EPANIC);
    ASSERT_EQ(results[t][1], NX_EPANIC);
  }
  return 0;
}
