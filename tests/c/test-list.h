/*
 * test-list.h: every C test, one TEST_ENTRY(name) line each (an X-macro list, as libuv's
 * test/test-list.h). No include guard: runner.c includes it twice.
 *
 * To add a test: write TEST_IMPL(name) in tests/c/test-<area>-<what>.c and add its line
 * here, grouped by file. CMake finds the .c files by their name (test-*.c), registers each
 * entry as its own ctest test `name` (`ctest -R name`, or `nx_run_tests name`), labels it
 * "c;<area>" from the file name (test-selector-*.c: "c;selector"; test-error.c,
 * test-version.c, test-panic.c: "c;core"), and fails the configure step if a TEST_IMPL is
 * missing from this list.
 */

/* test-error.c */
TEST_ENTRY(error_names)
TEST_ENTRY(error_strerror)
TEST_ENTRY(error_os_codes)
TEST_ENTRY(error_unknown_codes)
TEST_ENTRY(error_tables_thread_safe)

/* test-version.c */
TEST_ENTRY(version_macros)
TEST_ENTRY(version_functions)

/* test-panic.c */
TEST_ENTRY(panic_returns_epanic)
TEST_ENTRY(panic_in_threads)
