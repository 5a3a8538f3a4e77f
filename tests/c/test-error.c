/* Error codes: nx_err_name() and nx_strerror() for every NX_E* code, -errno and unknowns. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "task.h"

static const struct {
  int code;
  const char *name;
} NX_CODES[] = {
    {NX_EOF, "NX_EOF"},
    {NX_EINVAL, "NX_EINVAL"},
    {NX_ECLOSED, "NX_ECLOSED"},
    {NX_EASYNCCLOSE, "NX_EASYNCCLOSE"},
    {NX_EBADHANDLE, "NX_EBADHANDLE"},
    {NX_EPANIC, "NX_EPANIC"},
    {NX_EFORKED, "NX_EFORKED"},
    {NX_ETIMEDOUT, "NX_ETIMEDOUT"},
    {NX_ECANCELLEDKEY, "NX_ECANCELLEDKEY"},
    {NX_EBLOCKINGMODE, "NX_EBLOCKINGMODE"},
    {NX_EOPS, "NX_EOPS"},
    {NX_ENOOPT, "NX_ENOOPT"},
    {NX_EREGISTERED, "NX_EREGISTERED"},
    {NX_ENOTCONNECTED, "NX_ENOTCONNECTED"},
    {NX_EISCONNECTED, "NX_EISCONNECTED"},
    {NX_ECONNPENDING, "NX_ECONNPENDING"},
    {NX_ENOCONNPENDING, "NX_ENOCONNPENDING"},
    {NX_ENOTBOUND, "NX_ENOTBOUND"},
    {NX_EALREADYBOUND, "NX_EALREADYBOUND"},
    {NX_EINTERRUPTED, "NX_EINTERRUPTED"},
    {NX_EREADPENDING, "NX_EREADPENDING"},
    {NX_EWRITEPENDING, "NX_EWRITEPENDING"},
    {NX_ESHUTDOWN, "NX_ESHUTDOWN"},
    {NX_ECANCELLED, "NX_ECANCELLED"},
    {NX_EREJECTED, "NX_EREJECTED"},
    {NX_EDEADLK, "NX_EDEADLK"},
    {NX_EBUSY, "NX_EBUSY"},
    {NX_EALREADYDONE, "NX_EALREADYDONE"},
};

#define NX_CODE_COUNT (sizeof(NX_CODES) / sizeof(NX_CODES[0]))

TEST_IMPL(error_names) {
  size_t i;
  int code;
  ASSERT_STR_EQ(nx_err_name(NX_OK), "NX_OK");
  ASSERT_EQ(NX_OK, 0);
  for (i = 0; i < NX_CODE_COUNT; i++) {
    ASSERT_LE(NX_CODES[i].code, -3000);
    ASSERT_GE(NX_CODES[i].code, -3099);
    ASSERT_STR_EQ(nx_err_name(NX_CODES[i].code), NX_CODES[i].name);
  }
  /* Every named code in the reserved block is an NX_E* code: the block holds nothing else. */
  for (code = -3000; code >= -3099; code--) {
    const char *name = nx_err_name(code);
    if (strcmp(name, "UNKNOWN") != 0)
      ASSERT_EQ(strncmp(name, "NX_E", 4), 0);
  }
  return 0;
}

TEST_IMPL(error_strerror) {
  size_t i;
  size_t j;
  ASSERT_STR_EQ(nx_strerror(NX_OK), "success");
  for (i = 0; i < NX_CODE_COUNT; i++) {
    const char *text = nx_strerror(NX_CODES[i].code);
    ASSERT_NOT_NULL(text);
    ASSERT_GT(strlen(text), 0);
    ASSERT(strcmp(text, "unknown error") != 0);
    /* Static strings: the same pointer every time. */
    ASSERT_PTR_EQ(nx_strerror(NX_CODES[i].code), text);
    for (j = 0; j < i; j++)
      ASSERT(strcmp(nx_strerror(NX_CODES[j].code), text) != 0);
  }
  return 0;
}

TEST_IMPL(error_os_codes) {
  int errno_value;
  ASSERT_STR_EQ(nx_err_name(-ECONNRESET), "ECONNRESET");
  ASSERT_STR_EQ(nx_err_name(-EAGAIN), "EAGAIN");
  ASSERT_STR_EQ(nx_err_name(-EMFILE), "EMFILE");
  ASSERT_STR_EQ(nx_err_name(-EPIPE), "EPIPE");
  ASSERT_STR_EQ(nx_strerror(-ECONNRESET), strerror(ECONNRESET));
  /* Every errno nioxide names has the C library's text (errno values stay below nioxide's
   * reserved block, -3000 to -3099). */
  for (errno_value = 1; errno_value < 3000; errno_value++) {
    if (strcmp(nx_err_name(-errno_value), "UNKNOWN") != 0)
      ASSERT_STR_EQ(nx_strerror(-errno_value), strerror(errno_value));
  }
  return 0;
}

TEST_IMPL(error_unknown_codes) {
  static const int unknown[] = {1, 42, -2999, -3099, -3100, -4096, -100000, INT_MIN, INT_MAX};
  size_t i;
  for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    ASSERT_STR_EQ(nx_err_name(unknown[i]), "UNKNOWN");
    ASSERT_STR_EQ(nx_strerror(unknown[i]), "unknown error");
  }
  return 0;
}

#define THREADS 4

static void *describe_all(void *arg) {
  const char **seen = arg;
  size_t i;
  for (i = 0; i < NX_CODE_COUNT; i++) {
    seen[2 * i] = nx_err_name(NX_CODES[i].code);
    seen[2 * i + 1] = nx_strerror(NX_CODES[i].code);
  }
  return NULL;
}

/* The tables are built on first use: threads racing to that first use see the same strings. */
TEST_IMPL(error_tables_thread_safe) {
  static const char *seen[THREADS][2 * NX_CODE_COUNT];
  pthread_t threads[THREADS];
  size_t t;
  size_t i;
  for (t = 0; t < THREADS; t++)
    ASSERT_OK(pthread_create(&threads[t], NULL, describe_all, (void *)seen[t]));
  for (t = 0; t < THREADS; t++)
    ASSERT_OK(pthread_join(threads[t], NULL));
  for (t = 1; t < THREADS; t++) {
    for (i = 0; i < 2 * NX_CODE_COUNT; i++)
      ASSERT_PTR_EQ(seen[t][i], seen[0][i]);
  }
  return 0;
}
