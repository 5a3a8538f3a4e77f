/*
 * epoll_echo: the benchmark's baseline, (a): a raw level-triggered epoll echo server in C.
 *
 *   epoll_echo [PORT]      (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * Single-threaded, non-blocking, TCP_NODELAY. Each readiness gets one read and the echo is
 * written at once; bytes a write could not take wait in the connection's buffer with EPOLLOUT
 * on and EPOLLIN off until they are gone (the same structure as the other servers).
 * SIGUSR1 reports rusage, SIGTERM/SIGINT report it and exit (bench_report.h).
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

#define BUF_SIZE 16384
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t off, len;        /* pending bytes of buf: [off, len) */
    char buf[BUF_SIZE];
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
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
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
                c->off = c->len = 0;
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
                /* Writable again: finish the pending echo, then read again. */
                int r = flush(c);
                if (r < 0 || (r == 0 && watch(ep, c, EPOLLIN) != 0))
                    close_conn(ep, c);
                continue;
            }
            {
                ssize_t r = recv(c->fd, c->buf, BUF_SIZE, 0);
                int w;
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0) { /* end of stream or error */
                    close_conn(ep, c);
                    continue;
                }
                bench_bytes += (uint64_t)r;
                c->len = (size_t)r;
                w = flush(c);
                if (w < 0 || (w == 1 && watch(ep, c, EPOLLOUT) != 0))
                    close_conn(ep, c);
            }
        }
    }
}
