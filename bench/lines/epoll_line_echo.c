/*
 * epoll_line_echo: the line benchmark's C baseline, (A): a raw level-triggered epoll line echo
 * server in C.
 *
 *   epoll_line_echo [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * Single-threaded, non-blocking, TCP_NODELAY. Each connection has an input buffer of
 * MAX_LINE bytes: each readiness gets one read appended to what is left of a partial line, the
 * buffer is cut on '\n', and each whole line (its '\n' included) is copied to the connection's
 * output buffer; the lines of one read go out in one send, and the partial line at the end
 * moves to the buffer's front. A line longer than MAX_LINE closes the connection. Bytes a send
 * could not take wait with EPOLLOUT on and EPOLLIN off until they are gone, as in
 * bench/epoll_echo.c. SIGUSR1 reports rusage and the bytes echoed, SIGTERM/SIGINT report and
 * exit (bench_report.h); the listener, accepting and sending are bench/epoll_server.h's.
 */
#define _GNU_SOURCE
#include "bench_report.h"
#include "epoll_server.h"

#define MAX_LINE 16384

struct conn {
    int fd;                 /* first: epoll_server_accept sets it */
    size_t in_len;          /* bytes of a partial line at the front of in */
    size_t off, len;        /* pending bytes of out: [off, len) */
    char in[MAX_LINE];
    char out[MAX_LINE];
};

/* Cuts the input buffer into lines and copies each to the output buffer; keeps the partial
 * line. Returns -1 if the input buffer is full without a '\n' (a line too long). */
static int frame(struct conn *c)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        size_t n;
        if (nl == NULL)
            break;
        n = (size_t)(nl - (c->in + start)) + 1;
        memcpy(c->out + c->len, c->in + start, n);
        c->len += n;
        bench_bytes += n;
        start += n;
    }
    if (start == 0 && c->in_len == MAX_LINE)
        return -1;
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
    }
    return 0;
}

static void on_accept(void *conn)
{
    struct conn *c = conn;
    c->in_len = c->off = c->len = 0;
}

/* Inlined into epoll_server_run's loop (so the baseline pays no call per readiness). */
static inline __attribute__((always_inline)) void on_ready(int ep, void *conn)
{
    struct conn *c = conn;
    ssize_t r;
    int w;
    if (c->len > 0) {
        /* Writable again: finish the pending lines, then read again. */
        w = epoll_server_flush(c->fd, c->out, &c->off, &c->len);
        if (w < 0 || (w == 0 && epoll_server_watch(ep, c->fd, c, EPOLLIN) != 0))
            epoll_server_close(ep, c->fd, c);
        return;
    }
    r = recv(c->fd, c->in + c->in_len, MAX_LINE - c->in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0 || (c->in_len += (size_t)r, frame(c)) != 0) {
        /* end of stream, an error, or a line too long */
        epoll_server_close(ep, c->fd, c);
        return;
    }
    w = epoll_server_flush(c->fd, c->out, &c->off, &c->len);
    if (w < 0 || (w == 1 && epoll_server_watch(ep, c->fd, c, EPOLLOUT) != 0))
        epoll_server_close(ep, c->fd, c);
}

int main(int argc, char **argv)
{
    return epoll_server_run(argc, argv, sizeof(struct conn), on_accept, on_ready);
}
