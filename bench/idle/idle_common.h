/*
 * idle_common.h: what the idle-connection servers share. Each server listens on 127.0.0.1
 * (port 0), prints its port on the first line of standard output, then accepts connections and
 * keeps them registered for reading, with one static read buffer (no buffer per connection:
 * bytes arriving are read and dropped; a closed connection is closed). After each batch of
 * accepts it prints the number of connections it holds. bench/idle/run.sh reads its resident
 * memory at two counts and divides the difference by the connections between them.
 */
#ifndef IDLE_COMMON_H
#define IDLE_COMMON_H

/* accept4(); include this header first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* Raises the soft descriptor limit to the hard one (the servers hold thousands). */
static inline void idle_raise_fd_limit(void) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

/* 127.0.0.1, port 0. */
static inline struct sockaddr_in idle_loopback(void) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

/* Prints the number of connections held, when it changed. */
static inline void idle_report(long held) {
  static long last = -1;
  if (held != last) {
    printf("%ld\n", held);
    fflush(stdout);
    last = held;
  }
}

static inline void idle_fail(const char *what, int code) {
  fprintf(stderr, "idle server: %s failed (%d)\n", what, code);
  exit(1);
}

#endif
