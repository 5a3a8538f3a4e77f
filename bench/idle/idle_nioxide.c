/* The nioxide Selector model: each connection a non-blocking socket channel registered for
 * OP_READ with no attachment (see idle_common.h). What it holds per connection beyond the raw
 * epoll server is nioxide's own cost: the channel, its key, their handles, the registration. */
#include <nioxide.h>

#include "idle_common.h"

/* The one read buffer every connection shares. */
static char idle_buffer[4096];

int main(void) {
  struct sockaddr_in addr = idle_loopback();
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  nx_selector_t *selector;
  nx_server_socket_channel_t *server;
  long held = 0;
  int rc;
  idle_raise_fd_limit();
  if ((rc = nx_selector_open(&selector)) != 0 || (rc = nx_server_socket_channel_open(&server)) != 0)
    idle_fail("open", rc);
  if ((rc = nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, sizeof addr, 4096)) != 0 ||
      (rc = nx_server_socket_channel_local_address(server, &bound, &bound_len)) != 0 ||
      (rc = nx_server_socket_channel_configure_blocking(server, 0)) != 0 ||
      (rc = nx_server_socket_channel_register(server, selector, NX_OP_ACCEPT, NULL, NULL, NULL)) != 0)
    idle_fail("listen", rc);
  printf("%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
  fflush(stdout);
  for (;;) {
    size_t count = 0;
    size_t cursor = 0;
    nx_selection_key_t *key;
    uint32_t ready;
    void *attachment;
    if ((rc = nx_selector_select(selector, 1000, &count)) != 0)
      idle_fail("select", rc);
    while (nx_selector_next_ready(selector, &cursor, &key, &ready, &attachment) == 0) {
      nx_socket_channel_t *channel = NULL;
      if (ready & NX_OP_ACCEPT) {
        while (nx_server_socket_channel_accept(server, &channel) == 0 && channel != NULL) {
          if ((rc = nx_socket_channel_configure_blocking(channel, 0)) != 0 ||
              (rc = nx_socket_channel_register(channel, selector, NX_OP_READ, NULL, NULL,
                                               NULL)) != 0)
            idle_fail("register", rc);
          held++;
        }
      } else if ((ready & NX_OP_READ) && nx_selection_key_socket_channel(key, &channel) == 0) {
        size_t n = 0;
        if (nx_socket_channel_read(channel, idle_buffer, sizeof idle_buffer, &n) < 0) {
          nx_socket_channel_free(channel);
          held--;
        }
      }
    }
    idle_report(held);
  }
}
