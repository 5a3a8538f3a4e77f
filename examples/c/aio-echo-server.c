/*
 * aio-echo-server: an echo server on nioxide's completion handlers, the C twin of seed 002's
 * Java NIO.2 (AIO) echo server.
 *
 *   aio-echo-server [--queue] [PORT [CONNECTIONS]]
 *
 * Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
 * "listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
 * Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/SIGINT.
 *
 * The pattern, as in Java: the accept handler takes a connection and starts the next accept;
 * each connection is a handler chain read → write → read whose state (the channel, the buffer,
 * how much is left to write) is the operations' attachment, passed from one to the next and
 * freed by the handler that ends the chain. Two ways to write back:
 *   (the default) nx_aio_socket_write: one write pending at a time, and a write may
 *         complete short, so the handler writes the rest before reading again (what Java's
 *         users must do to avoid WritePendingException);
 *   --queue nx_aio_socket_write_all: the write queue Java never gave its users; its handler runs
 *         once the whole chunk has left.
 * Every handler runs on the group's one loop thread; main only waits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nioxide.h>

/* One connection: the attachment of its every operation. */
struct conn {
    nx_aio_socket_t *channel;
    size_t start, end; /* read but not yet written back: buf[start..end) */
    unsigned char buf[16384];
};

static nx_aio_server_socket_t *server;
static int queue_mode;
static int closed_count; /* connections closed, counted on the loop thread, read by main */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void read_done(int64_t result, void *attachment);
static void write_done(int64_t result, void *attachment);
static void conn_failed(int error, void *attachment);

static const nx_completion_handler_t read_handler = {read_done, conn_failed};
static const nx_completion_handler_t write_handler = {write_done, conn_failed};

/* Ends the chain: the last handler of a connection frees it. */
static void finish(struct conn *c)
{
    nx_aio_socket_free(c->channel);
    free(c);
    __atomic_add_fetch(&closed_count, 1, __ATOMIC_SEQ_CST);
}

static void start_read(struct conn *c)
{
    int rc = nx_aio_socket_read(c->channel, c->buf, sizeof(c->buf), 0, c, &read_handler);
    if (rc != 0)
        finish(c); /* the handler will not run: the chain ends here */
}

static void start_write(struct conn *c)
{
    int rc;
    if (queue_mode)
        rc = nx_aio_socket_write_all(c->channel, c->buf + c->start, c->end - c->start, c,
                                     &write_handler);
    else
        rc = nx_aio_socket_write(c->channel, c->buf + c->start, c->end - c->start, 0, c,
                                 &write_handler);
    if (rc != 0)
        finish(c);
}

static void read_done(int64_t result, void *attachment)
{
    struct conn *c = attachment;
    if (result == NX_EOF) {
        finish(c);
        return;
    }
    c->start = 0;
    c->end = (size_t)result;
    start_write(c);
}

static void write_done(int64_t result, void *attachment)
{
    struct conn *c = attachment;
    c->start += (size_t)result; /* a raw write may be short; write_all's never is */
    if (c->start < c->end)
        start_write(c);
    else
        start_read(c);
}

static void conn_failed(int error, void *attachment)
{
    struct conn *c = attachment;
    if (error != NX_EASYNCCLOSE)
        fprintf(stderr, "aio-echo-server: connection: %s\n", nx_strerror(error));
    finish(c);
}

static void accepted(nx_aio_socket_t *channel, void *attachment);
static void accept_failed(int error, void *attachment);
static const nx_accept_handler_t accept_handler = {accepted, accept_failed};

static void accepted(nx_aio_socket_t *channel, void *attachment)
{
    struct conn *c = calloc(1, sizeof(*c));
    (void)attachment;
    /* Accept the next connection first, as Java's servers do. */
    if (nx_aio_server_socket_accept(server, NULL, &accept_handler) != 0)
        fprintf(stderr, "aio-echo-server: no further accepts\n");
    if (c == NULL) {
        nx_aio_socket_free(channel);
        return;
    }
    c->channel = channel;
    start_read(c);
}

static void accept_failed(int error, void *attachment)
{
    (void)attachment;
    if (error != NX_EASYNCCLOSE)
        fprintf(stderr, "aio-echo-server: accept: %s\n", nx_strerror(error));
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "aio-echo-server: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    int port, connections;
    nx_aio_group_t *group = NULL;
    struct sockaddr_in addr;
    struct sockaddr_storage local;
    socklen_t local_len;
    struct sigaction sa;
    int rc;

    queue_mode = argc > 1 && strcmp(argv[1], "--queue") == 0;
    if (queue_mode) {
        argc--;
        argv++;
    }
    port = argc > 1 ? atoi(argv[1]) : 0;
    connections = argc > 2 ? atoi(argv[2]) : 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if ((rc = nx_aio_group_new(1, &group)) != 0)
        return fail("nx_aio_group_new", rc);
    if ((rc = nx_aio_server_socket_open(group, &server)) != 0)
        return fail("nx_aio_server_socket_open", rc);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((rc = nx_aio_server_socket_bind(server, (struct sockaddr *)&addr, sizeof(addr), 128)) != 0)
        return fail("nx_aio_server_socket_bind", rc);
    if ((rc = nx_aio_server_socket_local_address(server, &local, &local_len)) != 0)
        return fail("nx_aio_server_socket_local_address", rc);
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);
    if ((rc = nx_aio_server_socket_accept(server, NULL, &accept_handler)) != 0)
        return fail("nx_aio_server_socket_accept", rc);

    while (!stop_requested &&
           (connections == 0 || __atomic_load_n(&closed_count, __ATOMIC_SEQ_CST) < connections)) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    printf("%d connection(s) echoed (%s writes)\n", __atomic_load_n(&closed_count, __ATOMIC_SEQ_CST),
           queue_mode ? "queued" : "raw");
    /* Closing everything fails what is pending with NX_EASYNCCLOSE: each chain frees its own
     * connection in its failed handler, on the loop thread, before the group terminates. */
    nx_aio_server_socket_free(server);
    nx_aio_group_shutdown_now(group);
    if ((rc = nx_aio_group_await_termination(group, 5000)) != 0)
        return fail("nx_aio_group_await_termination", rc);
    nx_aio_group_free(group);
    return 0;
}
