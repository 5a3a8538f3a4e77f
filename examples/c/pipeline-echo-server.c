/*
 * pipeline-echo-server: an echo server on nioxide's channel pipeline, the C twin of Netty's
 * EchoServer.
 *
 *   pipeline-echo-server [PORT [CONNECTIONS]]
 *
 * Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
 * "listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
 * Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/SIGINT.
 *
 * The pattern, as Netty's EchoServerHandler:
 *   - a ServerBootstrap on one group (it accepts and serves), a child initializer that adds
 *     the echo handler to each accepted channel's pipeline;
 *   - channel_read writes the message back without a promise (nx_context_write with NULL);
 *   - channel_read_complete flushes;
 *   - while the channel is unwritable (the client reads slower than it sends) auto-read is
 *     off, so the server never buffers without bound; back on once writable;
 *   - end of stream: nioxide closes the channel.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nioxide.h>

static volatile sig_atomic_t stop_requested;
static int closed_connections; /* updated on loop threads */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int echo_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    (void)attachment;
    return nx_context_write(ctx, msg, NULL); /* msg stays lent to us; nioxide takes its own */
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

static int echo_inactive(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    __atomic_fetch_add(&closed_connections, 1, __ATOMIC_SEQ_CST);
    return nx_context_fire_channel_inactive(ctx);
}

static int echo_exception(nx_context_t *ctx, int error, void *attachment)
{
    (void)attachment;
    fprintf(stderr, "pipeline-echo-server: %s\n", nx_strerror(error));
    return nx_context_close(ctx, NULL);
}

static const nx_channel_handler_t echo_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = echo_read,
    .channel_read_complete = echo_read_complete,
    .channel_writability_changed = echo_writability_changed,
    .channel_inactive = echo_inactive,
    .exception_caught = echo_exception,
};

static int init_child(nx_channel_t *channel, void *attachment)
{
    (void)attachment;
    return nx_pipeline_add_last(channel, "echo", &echo_handler, NULL, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "pipeline-echo-server: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    long port = argc > 1 ? atol(argv[1]) : 0;
    long max_conns = argc > 2 ? atol(argv[2]) : 0;
    nx_loop_group_t *group;
    nx_server_bootstrap_t *bootstrap;
    nx_channel_t *server;
    nx_promise_t *bound;
    struct sockaddr_in addr;
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    int rc;

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if ((rc = nx_loop_group_new(1, &group)) != 0)
        return fail("nx_loop_group_new", rc);
    if ((rc = nx_server_bootstrap_new(&bootstrap)) != 0)
        return fail("nx_server_bootstrap_new", rc);
    nx_server_bootstrap_group(bootstrap, group, group);
    nx_server_bootstrap_option(bootstrap, NX_OPTION_SO_REUSEADDR, 1);
    nx_server_bootstrap_child_handler(bootstrap, init_child, NULL, NULL);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = nx_server_bootstrap_bind(bootstrap, (struct sockaddr *)&addr, sizeof addr, &server, &bound);
    if (rc != 0)
        return fail("nx_server_bootstrap_bind", rc);
    if ((rc = nx_promise_wait(bound, -1)) != 0 || nx_promise_is_success(bound) != 1) {
        nx_promise_cause(bound, &rc);
        return fail("bind", rc);
    }
    nx_promise_free(bound);
    if ((rc = nx_channel_local_address(server, &local, &len)) != 0)
        return fail("nx_channel_local_address", rc);
    printf("listening on 127.0.0.1:%u\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);

    while (!stop_requested &&
           (max_conns == 0 || __atomic_load_n(&closed_connections, __ATOMIC_SEQ_CST) < max_conns))
        usleep(10000);

    printf("%d connection(s) served\n", __atomic_load_n(&closed_connections, __ATOMIC_SEQ_CST));
    nx_channel_free(server); /* closes it */
    nx_server_bootstrap_free(bootstrap);
    nx_loop_group_shutdown_gracefully(group, 0, 2000);
    nx_loop_group_await_termination(group, -1);
    nx_loop_group_free(group);
    return 0;
}
