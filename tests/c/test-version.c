/* Version: the NX_VERSION_* macros agree with each other and with the loaded library. */
#include "task.h"

_Static_assert(NX_VERSION_HEX ==
                   ((NX_VERSION_MAJOR << 16) | (NX_VERSION_MINOR << 8) | NX_VERSION_PATCH),
               "NX_VERSION_HEX combines major, minor and patch, one byte each");
_Static_assert(NX_VERSION_MINOR < 256 && NX_VERSION_PATCH < 256, "parts fit in a byte");

TEST_IMPL(version_macros) {
  ASSERT_EQ(nx_version(), NX_VERSION_HEX);
  ASSERT_EQ(nx_version() >> 16, NX_VERSION_MAJOR);
  ASSERT_EQ((nx_version() >> 8) & 0xff, NX_VERSION_MINOR);
  ASSERT_EQ(nx_version() & 0xff, NX_VERSION_PATCH);
  return 0;
}

TEST_IMPL(version_functions) {
  char expected[64];
  const char *version = nx_version_string();
  ASSERT_NOT_NULL(version);
  snprintf(expected, sizeof(expected), "%d.%d.%d", NX_VERSION_MAJOR, NX_VERSION_MINOR,
           NX_VERSION_PATCH);
  ASSERT_STR_EQ(version, expected);
  ASSERT_PTR_EQ(nx_version_string(), version); /* static */
  return 0;
}
