/* The baseline: a raw epoll server, nothing per connection in user space but its descriptor in
 * the epoll set (see idle_common.h). */
#include "idle_common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>


/* The one read buffer every connection shares. */
static char idle_buffer[4096];

int main(void) {
  struct sockaddr_in addr = idle_loopback();
  socklen_t len = sizeof addr;
  struct epoll_event events[256];
  struct epoll_event ev;
  long held = 0;
  int listener;
  int ep;
  idle_raise_fd_limit();
  listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, len) != 0 ||
      listen(listener, 4096) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0)
    idle_fail("listen", errno);
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  ep = epoll_create1(EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0)
    idle_fail("epoll", errno);
  for (;;) {
    int n = epoll_wait(ep, events, 256, 1000);
    int i;
    for (i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int conn;
        while ((conn = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          ev.events = EPOLLIN;
          ev.data.fd = conn;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev) != 0)
            idle_fail("epoll_ctl", errno);
          held++;
        }
      } else if (read(fd, idle_buffer, sizeof idle_buffer) <= 0 && errno != EAGAIN) {
        close(fd);
        held--;
      }
    }
    idle_report(held);
  }
}
