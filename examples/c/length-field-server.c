/*
 * length-field-server: a message server on nioxide's length-field codecs: each message is a
 * 2-byte big-endian length and that many bytes; the server answers each message with its
 * bytes in reverse order, framed the same way.
 *
 *   length-field-server [PORT [CONNECTIONS]]
 *
 * Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
 * "listening on 127.0.0.1:PORT" as its first line. Exits after CONNECTIONS connections have
 * closed (0 or nothing: never), or on SIGTERM/SIGINT.
 *
 * Each connection's pipeline: the length-field decoder (2-byte field at offset 0, the header
 * stripped: the handler sees whole messages however TCP cut them), the length-field
 * prepender (writes the 2-byte header before each answer), and the handler below.
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
static int closed_connections; /* updated on the loop thread */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* One whole message: answered with its bytes reversed. */
static int reverse_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    const uint8_t *data;
    size_t len;
    nx_message_t *reply;
    int rc;
    (void)attachment;
    if ((rc = nx_message_bytes(msg, &data, &len)) != 0)
        return rc;
    uint8_t *reversed = malloc(len + 1);
    if (reversed == NULL)
        return -12; /* -ENOMEM */
    for (size_t i = 0; i < len; i++)
        reversed[i] = data[len - 1 - i];
    /* The message owns `reversed` from here: free() runs when its last reference goes. */
    if ((rc = nx_message_new_owned(reversed, len, free, &reply)) != 0) {
        free(reversed);
        return rc;
    }
    rc = nx_context_write(ctx, reply, NULL); /* through the prepender */
    nx_message_release(reply);
    return rc;
}

static int reverse_read_complete(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    return nx_context_flush(ctx);
}

static int reverse_inactive(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    __atomic_fetch_add(&closed_connections, 1, __ATOMIC_SEQ_CST);
    return nx_context_fire_channel_inactive(ctx);
}

static int reverse_exception(nx_context_t *ctx, int error, void *attachment)
{
    (void)attachment;
    fprintf(stderr, "length-field-server: %s\n", nx_strerror(error));
    return nx_context_close(ctx, NULL);
}

static const nx_channel_handler_t reverse_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = reverse_read,
    .channel_read_complete = reverse_read_complete,
    .channel_inactive = reverse_inactive,
    .exception_caught = reverse_exception,
};

static int init_child(nx_channel_t *channel, void *attachment)
{
    nx_length_field_config_t config = {
        .size = sizeof(config),
        .max_frame_length = 2 + 65535,
        .length_field_offset = 0,
        .length_field_length = 2,
        .length_adjustment = 0,
        .initial_bytes_to_strip = 2,
        .byte_order = NX_BYTE_ORDER_BIG_ENDIAN,
        .fail_fast = 1,
    };
    nx_handler_t *decoder, *prepender;
    int rc;
    (void)attachment;
    if ((rc = nx_codec_length_field_based_frame_decoder(&config, &decoder)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "frames", decoder, NULL))) {
        nx_handler_free(decoder); /* a failed add leaves it ours */
        return rc;
    }
    if ((rc = nx_codec_length_field_prepender(2, NX_BYTE_ORDER_BIG_ENDIAN, 0, 0, &prepender)))
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "prepender", prepender,
                                      NULL))) {
        nx_handler_free(prepender);
        return rc;
    }
    return nx_pipeline_add_last(channel, "reverse", &reverse_handler, NULL, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "length-field-server: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
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
    nx_channel_free(server);
    nx_server_bootstrap_free(bootstrap);
    nx_loop_group_shutdown_gracefully(group, 0, 2000);
    nx_loop_group_await_termination(group, -1);
    nx_loop_group_free(group);
    return 0;
}
