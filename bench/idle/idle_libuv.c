/* libuv: each connection a uv_tcp_t (malloc'd, as a libuv program does) reading into the one
 * static buffer (see idle_common.h). */
#include <uv.h>

#include "idle_common.h"

/* The one read buffer every connection shares. */
static char idle_buffer[4096];

static uv_loop_t *loop;
static uv_tcp_t server;
static long held;

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)handle;
  (void)suggested;
  *buf = uv_buf_init(idle_buffer, sizeof idle_buffer);
}

static void on_closed(uv_handle_t *handle) { free(handle); }

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0) {
    uv_close((uv_handle_t *)stream, on_closed);
    held--;
    idle_report(held);
  }
}

static void on_connection(uv_stream_t *listener, int status) {
  uv_tcp_t *conn;
  int rc;
  if (status < 0)
    idle_fail("listen callback", status);
  conn = malloc(sizeof *conn);
  if (conn == NULL || (rc = uv_tcp_init(loop, conn)) != 0)
    idle_fail("uv_tcp_init", -1);
  if ((rc = uv_accept(listener, (uv_stream_t *)conn)) != 0 ||
      (rc = uv_read_start((uv_stream_t *)conn, on_alloc, on_read)) != 0)
    idle_fail("accept", rc);
  held++;
  idle_report(held);
}

int main(void) {
  struct sockaddr_in addr = idle_loopback();
  struct sockaddr_storage bound;
  int len = sizeof bound;
  int rc;
  idle_raise_fd_limit();
  loop = uv_default_loop();
  if ((rc = uv_tcp_init(loop, &server)) != 0 ||
      (rc = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&server, 4096, on_connection)) != 0 ||
      (rc = uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len)) != 0)
    idle_fail("listen", rc);
  printf("%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
