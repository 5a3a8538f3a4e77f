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
 * exit (bench_report.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_report.h"

#define MAX_LINE 16384
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t in_len;          /* bytes of a partial line at the front of in */
    size_t off, len;        /* pending bytes of out: [off, len) */
    char in[MAX_LINE];
    char out[MAX_LINE];
};

static void close_conn(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int watch(int ep, struct conn *c, uint32_t events)
{
    struct epoll_event ev;
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes pending bytes; returns 0 when all are gone, 1 when some are left, -1 on error. */
static int flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 1 : -1;
        }
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

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

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int one = 1, lfd, ep;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    struct epoll_event ev, events[MAX_EVENTS];
    static struct conn listener; /* only its address is used, to tell it apart */

    if (bench_install_signals() != 0) {
        perror("sigaction");
        return 1;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
        perror("listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = &listener;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("epoll");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1), i;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == &listener) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue; /* EAGAIN, or an error the next readiness reports again */
                c = malloc(sizeof *c);
                if (c == NULL) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                c->in_len = c->off = c->len = 0;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                ev.events = EPOLLIN;
                ev.data.ptr = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                    close(fd);
                    free(c);
                }
                continue;
            }
            if (c->len > 0) {
                /* Writable again: finish the pending lines, then read again. */
                int r = flush(c);
                if (r < 0 || (r == 0 && watch(ep, c, EPOLLIN) != 0))
                    close_conn(ep, c);
                continue;
            }
            {
                ssize_t r = recv(c->fd, c->in + c->in_len, MAX_LINE - c->in_len, 0);
                int w;
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0) { /* end of stream or error */
                    close_conn(ep, c);
                    continue;
                }
                c->in_len += (size_t)r;
                if (frame(c) != 0) {
                    close_conn(ep, c);
                    continue;
                }
                w = flush(c);
                if (w < 0 || (w == 1 && watch(ep, c, EPOLLOUT) != 0))
                    close_conn(ep, c);
            }
        }
    }
}
