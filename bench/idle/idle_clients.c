/* idle_clients PORT COUNT [echo]: opens COUNT connections to 127.0.0.1:PORT, prints "open" once
 * they are all connected, and holds them until standard input closes. With "echo" (the echo
 * benchmark's idle figure, bench/run.sh), each connection first sends one byte and waits for
 * it to come back, so that every connection has been through one read and one write of the
 * echo server before it idles. */
#include "idle_common.h"

#include <errno.h>
#include <unistd.h>


int main(int argc, char **argv) {
  struct sockaddr_in addr = idle_loopback();
  long count;
  long i;
  int echo;
  char c;
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "echo") != 0)) {
    fprintf(stderr, "usage: idle_clients PORT COUNT [echo]\n");
    return 2;
  }
  idle_raise_fd_limit();
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  count = atol(argv[2]);
  echo = argc == 4;
  for (i = 0; i < count; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
      idle_fail("connect", errno);
    if (echo) {
      char byte = 'x';
      if (write(fd, &byte, 1) != 1)
        idle_fail("write", errno);
      if (read(fd, &byte, 1) != 1 || byte != 'x')
        idle_fail("echo", errno);
    }
  }
  printf("open\n");
  fflush(stdout);
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}
