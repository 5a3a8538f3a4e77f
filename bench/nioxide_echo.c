/*
 * nioxide_echo: the benchmark's (c), the nioxide Selector echo server in C.
 *
 *   nioxide_echo [PORT]      (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * The same server as epoll_echo.c on nioxide's public C API (include/nioxide.h, the shared
 * library users link): single-threaded, non-blocking, TCP_NODELAY; one read per readiness, the
 * echo written at once; bytes a write could not take wait in the connection's buffer (the key's
 * attachment) with NX_OP_WRITE interest and no NX_OP_READ until they are gone.
 * SIGUSR1 reports rusage, SIGTERM/SIGINT report it and exit (bench_report.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nioxide.h>

#include "bench_report.h"

#define BUF_SIZE 16384

struct conn {
    nx_socket_channel_t *ch;
    size_t off, len;        /* pending bytes of buf: [off, len) */
    char buf[BUF_SIZE];
};

static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "nioxide_echo: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
        exit(1);
    }
    return rc;
}

/* Writes pending bytes; returns 0 when all are gone, 1 when some are left, <0 on error. */
static int flush(struct conn *c)
{
    while (c->off < c->len) {
        size_t n = 0;
        int rc = nx_socket_channel_write(c->ch, c->buf + c->off, c->len - c->off, &n);
        if (rc < 0)
            return rc;
        if (n == 0)
            return 1;
        c->off += n;
    }
    c->off = c->len = 0;
    return 0;
}

static void accept_one(nx_server_socket_channel_t *server, nx_selector_t *sel)
{
    nx_socket_channel_t *ch = NULL;
    struct conn *c;
    if (nx_server_socket_channel_accept(server, &ch) < 0 || ch == NULL)
        return; /* none yet, or an error the next readiness reports again */
    c = malloc(sizeof *c);
    if (c == NULL || nx_socket_channel_configure_blocking(ch, 0) < 0 ||
        nx_socket_channel_set_option(ch, NX_TCP_NODELAY, 1) < 0) {
        free(c);
        nx_socket_channel_free(ch);
        return;
    }
    c->ch = ch;
    c->off = c->len = 0;
    /* The key owns c from here: nioxide calls free(c) when the key goes away. */
    if (nx_socket_channel_register(ch, sel, NX_OP_READ, c, free, NULL) < 0) {
        free(c);
        nx_socket_channel_free(ch);
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    nx_selector_t *sel;
    nx_server_socket_channel_t *server;
    struct sockaddr_in sa;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;

    if (bench_install_signals() != 0) {
        perror("sigaction");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(nx_selector_open(&sel), "selector");
    check(nx_server_socket_channel_open(&server), "open");
    check(nx_server_socket_channel_bind(server, (struct sockaddr *)&sa, sizeof sa, 1024), "bind");
    check(nx_server_socket_channel_configure_blocking(server, 0), "configure_blocking");
    check(nx_server_socket_channel_register(server, sel, NX_OP_ACCEPT, NULL, NULL, NULL),
          "register");
    check(nx_server_socket_channel_local_address(server, &local, &local_len), "local_address");
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);

    for (;;) {
        size_t count, cursor = 0;
        nx_selection_key_t *key;
        uint32_t ready;
        void *att;
        check(nx_selector_select(sel, -1, &count), "select");
        /* Each selected key with its ready ops and attachment, in one call per key. */
        while (nx_selector_next_ready(sel, &cursor, &key, &ready, &att) == 0) {
            struct conn *c;
            size_t n = 0;
            int rc;

            if (ready & NX_OP_ACCEPT) { /* the listening channel's key */
                accept_one(server, sel);
                continue;
            }
            c = att;
            if (c == NULL) /* cancelled since the select */
                continue;
            if (c->len > 0) {
                /* Writable again: finish the pending echo, then read again. */
                rc = flush(c);
                if (rc < 0)
                    nx_socket_channel_free(c->ch); /* also frees c, through the key */
                else if (rc == 0)
                    nx_selection_key_set_interest_ops(key, NX_OP_READ);
                continue;
            }
            rc = nx_socket_channel_read(c->ch, c->buf, BUF_SIZE, &n);
            if (rc < 0) { /* NX_EOF or an error */
                nx_socket_channel_free(c->ch);
                continue;
            }
            if (n == 0) /* would block */
                continue;
            bench_bytes += n;
            c->len = n;
            rc = flush(c);
            if (rc < 0)
                nx_socket_channel_free(c->ch);
            else if (rc == 1)
                nx_selection_key_set_interest_ops(key, NX_OP_WRITE);
        }
    }
}
