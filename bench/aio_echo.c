/*
 * aio_echo: the benchmark's (j), the nioxide AIO (completion handler) echo server in C.
 *
 *   aio_echo [PORT]          (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * Java NIO.2's echo server on nioxide's public C API (include/nioxide.h): a one-thread AIO
 * group; the accept handler starts the next accept and then the connection's chain
 * read -> write -> read, with no read timeout. The chain's state (the channel, its buffer, the
 * bytes left to write) is each operation's attachment. A write may complete short: its handler
 * writes the rest before reading again. TCP_NODELAY on each connection.
 *
 * The second output line, "own_bytes_per_connection=N", is what this server itself allocates
 * per connection (its struct conn, as malloc hands it out): the idle figure takes it off the
 * growth of resident memory, leaving nioxide's own cost with a read pending. So that all of it
 * is resident, the struct is written whole at accept (an untouched tail would not be).
 * The main thread only waits for signals: SIGUSR1 reports rusage (the whole process, the loop
 * thread included), SIGTERM/SIGINT report it and exit (bench_report.h). The signals are blocked
 * before the loop thread starts (it inherits the mask), so they never interrupt its epoll_wait.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nioxide.h>

#include "bench_report.h"

#define BUF_SIZE 16384

/* One connection: the attachment of each of its operations. */
struct conn {
    nx_aio_socket_t *channel;
    size_t off, len; /* read but not yet written back: buf[off, len) */
    char buf[BUF_SIZE];
};

static nx_aio_server_socket_t *server;

static void read_done(int64_t result, void *attachment);
static void write_done(int64_t result, void *attachment);
static void conn_failed(int error, void *attachment);

static const nx_completion_handler_t read_handler = {read_done, conn_failed};
static const nx_completion_handler_t write_handler = {write_done, conn_failed};

/* Ends the chain: the handler that ends it frees the connection. */
static void finish(struct conn *c)
{
    nx_aio_socket_free(c->channel);
    free(c);
}

static void start_read(struct conn *c)
{
    if (nx_aio_socket_read(c->channel, c->buf, BUF_SIZE, 0, c, &read_handler) != 0)
        finish(c); /* the handler will not run */
}

static void start_write(struct conn *c)
{
    if (nx_aio_socket_write(c->channel, c->buf + c->off, c->len - c->off, 0, c, &write_handler) != 0)
        finish(c);
}

static void read_done(int64_t result, void *attachment)
{
    struct conn *c = attachment;
    if (result == NX_EOF) {
        finish(c);
        return;
    }
    bench_bytes += (uint64_t)result;
    c->off = 0;
    c->len = (size_t)result;
    start_write(c);
}

static void write_done(int64_t result, void *attachment)
{
    struct conn *c = attachment;
    c->off += (size_t)result;
    if (c->off < c->len)
        start_write(c); /* a short write: the rest first */
    else
        start_read(c);
}

/* A reset, or the group closing: the chain ends. */
static void conn_failed(int error, void *attachment)
{
    (void)error;
    finish(attachment);
}

static void accepted(nx_aio_socket_t *channel, void *attachment);
static void accept_failed(int error, void *attachment);
static const nx_accept_handler_t accept_handler = {accepted, accept_failed};

static void accepted(nx_aio_socket_t *channel, void *attachment)
{
    struct conn *c = malloc(sizeof *c);
    (void)attachment;
    /* The next accept first, as Java's servers do. */
    if (nx_aio_server_socket_accept(server, NULL, &accept_handler) != 0)
        fprintf(stderr, "aio_echo: no further accepts\n");
    if (c == NULL || nx_aio_socket_set_option(channel, NX_TCP_NODELAY, 1) != 0) {
        free(c);
        nx_aio_socket_free(channel);
        return;
    }
    memset(c, 0, sizeof *c); /* resident whole: see the idle figure above */
    c->channel = channel;
    start_read(c);
}

static void accept_failed(int error, void *attachment)
{
    (void)attachment;
    fprintf(stderr, "aio_echo: accept: %s\n", nx_strerror(error));
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "aio_echo: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    nx_aio_group_t *group;
    struct sockaddr_in sa;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    sigset_t reported, none;
    struct conn *probe;

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

    check(nx_aio_group_new(1, &group), "nx_aio_group_new");
    check(nx_aio_server_socket_open(group, &server), "nx_aio_server_socket_open");
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(nx_aio_server_socket_bind(server, (struct sockaddr *)&sa, sizeof sa, 1024),
          "nx_aio_server_socket_bind");
    check(nx_aio_server_socket_local_address(server, &local, &local_len),
          "nx_aio_server_socket_local_address");
    /* A connection's allocation as malloc makes it: the usable size and malloc's header. */
    probe = malloc(sizeof *probe);
    if (probe == NULL)
        return 1;
    printf("listening on 127.0.0.1:%d\nown_bytes_per_connection=%zu\n",
           ntohs(((struct sockaddr_in *)&local)->sin_port),
           malloc_usable_size(probe) + sizeof(size_t));
    fflush(stdout);
    free(probe);
    check(nx_aio_server_socket_accept(server, NULL, &accept_handler), "nx_aio_server_socket_accept");

    /* The loop thread serves; this one sleeps with the signals unblocked until one ends it. */
    sigemptyset(&none);
    for (;;)
        sigsuspend(&none);
}
