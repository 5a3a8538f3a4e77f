/*
 * epoll_server.h: the frame of a raw epoll benchmark server apart from its read path: the
 * listening socket and its epoll set, accepting a connection, switching its events, sending
 * its pending bytes, and the loop (epoll_server_run). bench/lines/epoll_line_echo.c is built on
 * it. bench/epoll_echo.c keeps its own copy of the same structure, written out in main: it is
 * the reference of every ratio in bench/results.md, and moving it onto these helpers changes
 * its instruction count (inlining differs), which would move that reference between runs.
 * Include after bench_report.h. Each server keeps its own connection struct; these helpers
 * take the fields they need.
 */
#ifndef EPOLL_SERVER_H
#define EPOLL_SERVER_H

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

#define EPOLL_SERVER_MAX_EVENTS 256

/* Installs the report signals, listens on 127.0.0.1:PORT (argv[1]; 0 or none: the OS
 * chooses), makes the epoll set with the listener in it (its data pointer `listener`), and
 * prints "listening on 127.0.0.1:PORT". Sets *lfd and *ep; returns 0, or 1 after perror. */
static int epoll_server_listen(int argc, char **argv, void *listener, int *lfd, int *ep)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int one = 1;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    struct epoll_event ev;

    if (bench_install_signals() != 0) {
        perror("sigaction");
        return 1;
    }
    *lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (*lfd < 0 || setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(*lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(*lfd, 1024) != 0 ||
        getsockname(*lfd, (struct sockaddr *)&sa, &salen) != 0) {
        perror("listen");
        return 1;
    }
    *ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = listener;
    if (*ep < 0 || epoll_ctl(*ep, EPOLL_CTL_ADD, *lfd, &ev) != 0) {
        perror("epoll");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return 0;
}

/* Accepts one connection (non-blocking, TCP_NODELAY) into a malloc'd allocation of `size`
 * bytes whose first field is its int fd (the rest is left as malloc gives it: the caller sets
 * its counters, and the buffers' untouched pages stay unresident), watched for EPOLLIN.
 * Returns it, or NULL (EAGAIN, or an error the next readiness reports again). */
static void *epoll_server_accept(int ep, int lfd, size_t size)
{
    int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct epoll_event ev;
    int *c;
    if (fd < 0)
        return NULL;
    c = malloc(size);
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    *c = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        free(c);
        return NULL;
    }
    return c;
}

static void epoll_server_close(int ep, int fd, void *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(c);
}

static int epoll_server_watch(int ep, int fd, void *c, uint32_t events)
{
    struct epoll_event ev;
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Sends buf[*off, *len); returns 0 when all are gone (both reset to 0), 1 when some are left,
 * -1 on error. Inlined: it is the servers' hot path. */
static inline __attribute__((always_inline)) int epoll_server_flush(int fd, const char *buf, size_t *off, size_t *len)
{
    while (*off < *len) {
        ssize_t n = send(fd, buf + *off, *len - *off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 1 : -1;
        }
        *off += (size_t)n;
    }
    *off = *len = 0;
    return 0;
}

/* Runs a server to the end: listens (epoll_server_listen), accepts each connection into an
 * allocation of `conn_size` bytes (epoll_server_accept) that `on_accept` sets up, and calls
 * `on_ready(ep, conn)` for each readiness of a connection. Returns 1 on an error. */
static int epoll_server_run(int argc, char **argv, size_t conn_size, void (*on_accept)(void *),
                            void (*on_ready)(int ep, void *conn))
{
    static char listener; /* only its address is used, to tell it apart */
    struct epoll_event events[EPOLL_SERVER_MAX_EVENTS];
    int lfd, ep;

    if (epoll_server_listen(argc, argv, &listener, &lfd, &ep) != 0)
        return 1;
    for (;;) {
        int n = epoll_wait(ep, events, EPOLL_SERVER_MAX_EVENTS, -1), i;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            void *c = events[i].data.ptr;
            if (c == &listener) {
                c = epoll_server_accept(ep, lfd, conn_size);
                if (c != NULL)
                    on_accept(c);
            } else {
                on_ready(ep, c);
            }
        }
    }
}

#endif /* EPOLL_SERVER_H */
