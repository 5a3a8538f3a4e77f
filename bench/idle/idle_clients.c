/* idle_clients PORT COUNT: opens COUNT connections to 127.0.0.1:PORT, prints "open" once they
 * are all connected, and holds them until standard input closes. */
#include "idle_common.h"

#include <errno.h>
#include <unistd.h>


int main(int argc, char **argv) {
  struct sockaddr_in addr = idle_loopback();
  long count;
  long i;
  char c;
  if (argc != 3) {
    fprintf(stderr, "usage: idle_clients PORT COUNT\n");
    return 2;
  }
  idle_raise_fd_limit();
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  count = atol(argv[2]);
  for (i = 0; i < count; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
      idle_fail("connect", errno);
  }
  printf("open\n");
  fflush(stdout);
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}
