/* A program that uses an installed nioxide: built by the CMake project beside this file
 * (find_package) and by `make install-check` with pkg-config. Prints the library's version and
 * fails if the header and the loaded library disagree. */
#include <stdio.h>
#include <string.h>

#include <nioxide.h>

int main(void) {
  printf("nioxide %s (header %d.%d.%d)\n", nx_version_string(), NX_VERSION_MAJOR,
         NX_VERSION_MINOR, NX_VERSION_PATCH);
  if (nx_version() != NX_VERSION_HEX) {
    fprintf(stderr, "header and library versions differ: 0x%06x != 0x%06x\n", nx_version(),
            (unsigned)NX_VERSION_HEX);
    return 1;
  }
  if (strcmp(nx_err_name(NX_ECLOSED), "NX_ECLOSED") != 0)
    return 1;
  return 0;
}
