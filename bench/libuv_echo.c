/*
 * libuv_echo: the benchmark's (i), an echo server on libuv (an anchor beside nioxide).
 *
 *   libuv_echo [PORT]        (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * libuv's own idiom for an echo: uv_read_start on each accepted uv_tcp_t (TCP_NODELAY), and in
 * the read callback uv_try_write of what came in. Reads go to one static buffer (the server is
 * single-threaded and the bytes leave before the next read), so an idle connection costs its
 * uv_tcp_t only. Bytes uv_try_write could not take are copied to a malloc'd write request and
 * go out with uv_write, and reading stops until that write's callback (the server never
 * buffers without bound).
 * SIGUSR1 reports rusage, SIGTERM/SIGINT report it and exit (bench_report.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bench_report.h"

#define BUF_SIZE 65536

/* A write uv_try_write could not finish: the request and the bytes it still has to send. */
struct pending {
    uv_write_t req;
    char data[]; /* the rest of the echo */
};

static uv_loop_t *loop;
static char read_buf[BUF_SIZE]; /* every read lands here; its bytes leave before the next */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(read_buf, BUF_SIZE);
}

static void on_closed(uv_handle_t *handle)
{
    free(handle);
}

static void close_tcp(uv_stream_t *stream)
{
    if (!uv_is_closing((uv_handle_t *)stream))
        uv_close((uv_handle_t *)stream, on_closed);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

/* The rest of an echo went out: read again. */
static void on_written(uv_write_t *req, int status)
{
    uv_stream_t *stream = req->handle;
    free(req); /* the struct pending it starts */
    if (status < 0 || uv_read_start(stream, on_alloc, on_read) != 0)
        close_tcp(stream);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct pending *p;
    uv_buf_t rest;
    int w;
    if (n == 0) /* EAGAIN: nothing this time */
        return;
    if (n < 0) { /* UV_EOF or an error */
        close_tcp(stream);
        return;
    }
    bench_bytes += (uint64_t)n;
    rest = uv_buf_init(buf->base, (unsigned int)n);
    w = uv_try_write(stream, &rest, 1);
    if (w == n)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        close_tcp(stream);
        return;
    }
    /* Some or all bytes are left: copy them out of the shared buffer into a write request,
     * and stop reading until it is done. */
    if (w < 0)
        w = 0;
    p = malloc(sizeof *p + (size_t)(n - w));
    if (p == NULL) {
        close_tcp(stream);
        return;
    }
    memcpy(p->data, buf->base + w, (size_t)(n - w));
    rest = uv_buf_init(p->data, (unsigned int)(n - w));
    if (uv_read_stop(stream) != 0 || uv_write(&p->req, stream, &rest, 1, on_written) != 0) {
        free(p);
        close_tcp(stream);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    uv_tcp_t *tcp;
    if (status < 0)
        return;
    tcp = malloc(sizeof *tcp);
    if (tcp == NULL)
        return;
    if (uv_tcp_init(loop, tcp) != 0) {
        free(tcp);
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)tcp) != 0 || uv_tcp_nodelay(tcp, 1) != 0 ||
        uv_read_start((uv_stream_t *)tcp, on_alloc, on_read) != 0)
        close_tcp((uv_stream_t *)tcp);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    static uv_tcp_t server;
    struct sockaddr_in sa;
    struct sockaddr_storage local;
    int local_len = sizeof local, rc;

    if (bench_install_signals() != 0) {
        perror("sigaction");
        return 1;
    }
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &sa);
    if ((rc = uv_tcp_init(loop, &server)) != 0 ||
        (rc = uv_tcp_bind(&server, (struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&server, 1024, on_connection)) != 0 ||
        (rc = uv_tcp_getsockname(&server, (struct sockaddr *)&local, &local_len)) != 0) {
        fprintf(stderr, "libuv_echo: listen: %s\n", uv_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
