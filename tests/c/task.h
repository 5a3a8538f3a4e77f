/*
 * task.h: what every C test includes (libuv's test/task.h, adapted).
 *
 *   #include "task.h"
 *
 *   TEST_IMPL(error_names) {
 *     ASSERT_STR_EQ(nx_err_name(NX_ECLOSED), "NX_ECLOSED");
 *     ASSERT_OK(some_call());                 // == 0, else prints the code and its name
 *     ASSERT_EQ(nx_foo(NULL), NX_EINVAL);     // prints both values (and NX_E* names)
 *     return 0;
 *   }
 *
 * Add the test's name to test-list.h (one TEST_ENTRY line). A test returns 0 on success or
 * RETURN_SKIP("why"); a failed assertion prints where and what, then ends the test's process
 * with status 1. The runner (runner.c) runs each test in its own forked process with a
 * timeout and fails it if it leaves descriptors, threads or nioxide handles behind.
 */
#ifndef NX_TASK_H
#define NX_TASK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nioxide.h"

/* The exit status of a skipped test (ctest's SKIP_RETURN_CODE). */
#define TEST_SKIP 7

/* Defines the test `name`; list it in test-list.h as TEST_ENTRY(name). */
#define TEST_IMPL(name)                                                                    \
  int run_test_##name(void);                                                               \
  int run_test_##name(void)

/* Ends the test as skipped, saying why. */
#define RETURN_SKIP(explanation)                                                           \
  do {                                                                                     \
    fprintf(stderr, "SKIP: %s\n", (explanation));                                          \
    fflush(stderr);                                                                        \
    return TEST_SKIP;                                                                      \
  } while (0)

/* Reports a failed assertion and ends the test process (runner.c). */
void nx_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Reports a failed integer comparison, naming NX_E* and -errno values (runner.c). */
void nx_test_fail_int(const char *file, int line, const char *expr, int64_t left,
                      int64_t right) __attribute__((noreturn));

#define NX__ASSERT_INT(a, op, b, text)                                                     \
  do {                                                                                     \
    int64_t nx__left = (int64_t)(a);                                                       \
    int64_t nx__right = (int64_t)(b);                                                      \
    if (!(nx__left op nx__right))                                                          \
      nx_test_fail_int(__FILE__, __LINE__, text, nx__left, nx__right);                     \
  } while (0)

/* Integer comparisons; on failure both values are printed, with their NX_E* or errno names. */
#define ASSERT_EQ(a, b) NX__ASSERT_INT(a, ==, b, "ASSERT_EQ(" #a ", " #b ")")
#define ASSERT_NE(a, b) NX__ASSERT_INT(a, !=, b, "ASSERT_NE(" #a ", " #b ")")
#define ASSERT_LT(a, b) NX__ASSERT_INT(a, <, b, "ASSERT_LT(" #a ", " #b ")")
#define ASSERT_LE(a, b) NX__ASSERT_INT(a, <=, b, "ASSERT_LE(" #a ", " #b ")")
#define ASSERT_GT(a, b) NX__ASSERT_INT(a, >, b, "ASSERT_GT(" #a ", " #b ")")
#define ASSERT_GE(a, b) NX__ASSERT_INT(a, >=, b, "ASSERT_GE(" #a ", " #b ")")
/* `expr` (an nx_* call) returned 0; otherwise prints the code, its name and its text. */
#define ASSERT_OK(expr) NX__ASSERT_INT(expr, ==, 0, "ASSERT_OK(" #expr ")")

#define ASSERT(expr)                                                                       \
  do {                                                                                     \
    if (!(expr))                                                                           \
      nx_test_fail(__FILE__, __LINE__, "ASSERT(%s) failed", #expr);                        \
  } while (0)

#define ASSERT_NULL(p)                                                                     \
  do {                                                                                     \
    const void *nx__p = (const void *)(p);                                                 \
    if (nx__p != NULL)                                                                     \
      nx_test_fail(__FILE__, __LINE__, "ASSERT_NULL(%s) failed: %p", #p, nx__p);           \
  } while (0)

#define ASSERT_NOT_NULL(p)                                                                 \
  do {                                                                                     \
    if ((const void *)(p) == NULL)                                                         \
      nx_test_fail(__FILE__, __LINE__, "ASSERT_NOT_NULL(%s) failed", #p);                  \
  } while (0)

#define ASSERT_PTR_EQ(a, b)                                                                \
  do {                                                                                     \
    const void *nx__a = (const void *)(a);                                                 \
    const void *nx__b = (const void *)(b);                                                 \
    if (nx__a != nx__b)                                                                    \
      nx_test_fail(__FILE__, __LINE__, "ASSERT_PTR_EQ(%s, %s) failed: %p != %p", #a, #b,  \
                   nx__a, nx__b);                                                          \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                                \
  do {                                                                                     \
    const char *nx__a = (a);                                                               \
    const char *nx__b = (b);                                                               \
    if (nx__a == NULL || nx__b == NULL || strcmp(nx__a, nx__b) != 0)                       \
      nx_test_fail(__FILE__, __LINE__, "ASSERT_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"",  \
                   #a, #b, nx__a ? nx__a : "(null)", nx__b ? nx__b : "(null)");            \
  } while (0)

#endif /* NX_TASK_H */
