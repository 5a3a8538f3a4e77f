/*
 * pipeline_server.h: the frame of the benchmarks' nioxide pipeline echo servers in C
 * (bench/pipeline_echo.c, bench/lines/codec_line_echo.c): Netty's EchoServerHandler as a C
 * handler table, and the server around it, which differ only in what the child initializer
 * puts before the echo handler.
 *
 * The echo handler:
 *   - channel_read writes the message back without a promise (nx_context_write with NULL);
 *   - channel_read_complete flushes;
 *   - while the channel is unwritable auto-read is off (the server never buffers without
 *     bound), back on once writable.
 * The server: a ServerBootstrap on a one-thread loop group (that thread accepts and serves),
 * TCP_NODELAY on each accepted channel, the child initializer given; prints
 * "listening on 127.0.0.1:PORT". The main thread only waits for signals: SIGUSR1 reports
 * rusage (the whole process, the loop thread included), SIGTERM/SIGINT report it and exit
 * (bench_report.h). The signals are blocked before the loop thread starts (it inherits the
 * mask), so they never interrupt its epoll_wait.
 */
#ifndef NX_BENCH_PIPELINE_SERVER_H
#define NX_BENCH_PIPELINE_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nioxide.h>

#include "bench_report.h"

static int echo_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    const uint8_t *data;
    size_t len;
    (void)attachment;
    /* The benchmark's count of the bytes echoed. nx_message_bytes is the only way to the
     * length (about 140 instructions per request: results.md lists it under (f)'s profile). */
    if (nx_message_bytes(msg, &data, &len) == 0)
        bench_bytes += len;
    return nx_context_write(ctx, msg, NULL); /* msg stays lent; nioxide takes its own */
}

static int echo_read_complete(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    return nx_context_flush(ctx);
}

/* Reads pause while the client does not keep up with the echo. */
static int echo_writability_changed(nx_context_t *ctx, void *attachment)
{
    nx_channel_t *channel;
    (void)attachment;
    if (nx_context_channel(ctx, &channel) == 0)
        nx_channel_set_option(channel, NX_OPTION_AUTO_READ, nx_channel_is_writable(channel) == 1);
    return nx_context_fire_channel_writability_changed(ctx);
}

/* An error on one connection closes it (the load generator then reports the failure). */
static int echo_exception(nx_context_t *ctx, int error, void *attachment)
{
    (void)error;
    (void)attachment;
    return nx_context_close(ctx, NULL);
}

/* One handler table for all connections; no state per connection beyond nioxide's own
 * (add it with nx_pipeline_add_last(channel, "echo", &echo_handler, NULL, NULL, NULL)). */
static const nx_channel_handler_t echo_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = echo_read,
    .channel_read_complete = echo_read_complete,
    .channel_writability_changed = echo_writability_changed,
    .exception_caught = echo_exception,
};

/* The program's name, for its error messages. */
static const char *server_name = "server";

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s (%s)\n", server_name, what, nx_strerror(rc), nx_err_name(rc));
        exit(1);
    }
}

/* The server's main: serves until SIGTERM/SIGINT with `init_child` setting up each accepted
 * channel. */
static int pipeline_server_main(int argc, char **argv, nx_channel_init_cb init_child)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    nx_loop_group_t *group;
    nx_server_bootstrap_t *bootstrap;
    nx_channel_t *server;
    nx_promise_t *bound;
    struct sockaddr_in sa;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    sigset_t reported, none;
    int rc;

    if (argc > 0)
        server_name = argv[0];
    if (bench_install_signals() != 0) {
        perror("sigaction");
        return 1;
    }
    /* Blocked here, so in the loop thread too; unblocked below only while main waits. */
    sigemptyset(&reported);
    sigaddset(&reported, SIGUSR1);
    sigaddset(&reported, SIGTERM);
    sigaddset(&reported, SIGINT);
    pthread_sigmask(SIG_BLOCK, &reported, NULL);

    check(nx_loop_group_new(1, &group), "nx_loop_group_new");
    check(nx_server_bootstrap_new(&bootstrap), "nx_server_bootstrap_new");
    nx_server_bootstrap_group(bootstrap, group, group);
    check(nx_server_bootstrap_option(bootstrap, NX_OPTION_SO_BACKLOG, 1024), "backlog");
    check(nx_server_bootstrap_child_option(bootstrap, NX_OPTION_TCP_NODELAY, 1), "nodelay");
    nx_server_bootstrap_child_handler(bootstrap, init_child, NULL, NULL);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(nx_server_bootstrap_bind(bootstrap, (struct sockaddr *)&sa, sizeof sa, &server, &bound),
          "nx_server_bootstrap_bind");
    rc = nx_promise_wait(bound, -1);
    if (rc == 0 && nx_promise_is_success(bound) != 1)
        nx_promise_cause(bound, &rc);
    check(rc, "bind");
    nx_promise_free(bound);
    check(nx_channel_local_address(server, &local, &local_len), "nx_channel_local_address");
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);

    /* The loop thread serves; this one sleeps with the signals unblocked until one ends it. */
    sigemptyset(&none);
    for (;;)
        sigsuspend(&none);
}

#endif /* NX_BENCH_PIPELINE_SERVER_H */
