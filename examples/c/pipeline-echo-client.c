/*
 * pipeline-echo-client: an echo client on nioxide's channel pipeline, the C twin of Netty's
 * EchoClient.
 *
 *   pipeline-echo-client PORT [MESSAGE...]
 *
 * Connects to 127.0.0.1:PORT with a Bootstrap, sends each MESSAGE (or a default set, one of
 * them 1 MiB), checks every byte of the echo as it arrives, prints what was exchanged, then
 * closes. Exits 0 only if every byte came back as sent, 1 otherwise (also on an error or after
 * 30 s without finishing).
 *
 * The pattern, as Netty's EchoClientHandler: channel_active writes the messages and flushes;
 * channel_read checks each echoed buffer against what was sent (bytes arrive in any split),
 * without copying it; the main thread waits for the check to finish.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nioxide.h>

#define TIMEOUT_MS 30000
#define BIG_SIZE (1024 * 1024)

/* What was sent, and how far the echo got. */
struct exchange {
    unsigned char *sent;
    size_t len, received;
    int mismatch;
    int done; /* set on the loop thread, read by main */
};

static int client_active(nx_context_t *ctx, void *attachment)
{
    struct exchange *x = attachment;
    int rc = nx_context_write_bytes(ctx, x->sent, x->len, NULL);
    if (rc == 0)
        rc = nx_context_flush(ctx);
    if (rc == 0)
        rc = nx_context_fire_channel_active(ctx);
    return rc;
}

static int client_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    struct exchange *x = attachment;
    const uint8_t *data;
    size_t len;
    (void)ctx;
    if (nx_message_bytes(msg, &data, &len) != 0)
        return 0;
    if (x->received + len > x->len || memcmp(data, x->sent + x->received, len) != 0)
        x->mismatch = 1;
    x->received += len;
    if (x->received >= x->len || x->mismatch)
        __atomic_store_n(&x->done, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int client_inactive(nx_context_t *ctx, void *attachment)
{
    struct exchange *x = attachment;
    __atomic_store_n(&x->done, 1, __ATOMIC_SEQ_CST);
    return nx_context_fire_channel_inactive(ctx);
}

static const nx_channel_handler_t client_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_active = client_active,
    .channel_read = client_read,
    .channel_inactive = client_inactive,
};

static int init_client(nx_channel_t *channel, void *attachment)
{
    return nx_pipeline_add_last(channel, "echo-client", &client_handler, attachment, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "pipeline-echo-client: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

static void print_message(const char *label, const unsigned char *data, size_t len)
{
    if (len <= 60)
        printf("%s %zu bytes: \"%.*s\"\n", label, len, (int)len, (const char *)data);
    else
        printf("%s %zu bytes: \"%.24s...%.24s\"\n", label, len, (const char *)data,
               (const char *)data + len - 24);
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"Hello, nioxide!", "I am Coming", "66666666"};
    struct exchange x = {NULL, 0, 0, 0, 0};
    nx_loop_group_t *group;
    nx_bootstrap_t *bootstrap;
    nx_channel_t *channel;
    nx_promise_t *connected;
    struct sockaddr_in addr;
    size_t i, n = 0;
    int rc, waited = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [MESSAGE...]\n", argv[0]);
        return 2;
    }
    /* Everything to send, one after the other: the messages given, or the defaults plus 1 MiB. */
    for (i = 2; i < (size_t)argc; i++)
        x.len += strlen(argv[i]);
    if (x.len == 0) {
        for (i = 0; i < 3; i++)
            x.len += strlen(defaults[i]);
        x.len += BIG_SIZE;
    }
    x.sent = malloc(x.len);
    if (x.sent == NULL)
        return 1;
    if (argc > 2) {
        for (i = 2; i < (size_t)argc; i++) {
            memcpy(x.sent + n, argv[i], strlen(argv[i]));
            print_message("send", x.sent + n, strlen(argv[i]));
            n += strlen(argv[i]);
        }
    } else {
        for (i = 0; i < 3; i++) {
            memcpy(x.sent + n, defaults[i], strlen(defaults[i]));
            print_message("send", x.sent + n, strlen(defaults[i]));
            n += strlen(defaults[i]);
        }
        for (i = 0; i < BIG_SIZE; i++)
            x.sent[n + i] = (unsigned char)"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
        print_message("send", x.sent + n, BIG_SIZE);
    }

    if ((rc = nx_loop_group_new(1, &group)) != 0)
        return fail("nx_loop_group_new", rc);
    if ((rc = nx_bootstrap_new(&bootstrap)) != 0)
        return fail("nx_bootstrap_new", rc);
    nx_bootstrap_group(bootstrap, group);
    nx_bootstrap_handler(bootstrap, init_client, &x, NULL);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = nx_bootstrap_connect(bootstrap, (struct sockaddr *)&addr, sizeof addr, &channel, &connected);
    if (rc != 0)
        return fail("nx_bootstrap_connect", rc);
    if (nx_promise_wait(connected, TIMEOUT_MS) != 0 || nx_promise_is_success(connected) != 1) {
        nx_promise_cause(connected, &rc);
        return fail("connect", rc);
    }
    nx_promise_free(connected);
    printf("connected to 127.0.0.1:%s\n", argv[1]);

    while (!__atomic_load_n(&x.done, __ATOMIC_SEQ_CST) && waited < TIMEOUT_MS) {
        usleep(10000);
        waited += 10;
    }
    nx_channel_free(channel); /* closes it */
    nx_bootstrap_free(bootstrap);
    nx_loop_group_shutdown_gracefully(group, 0, 2000);
    nx_loop_group_await_termination(group, -1);
    nx_loop_group_free(group);

    if (x.received > 0)
        print_message("echo", x.sent, x.received < x.len ? x.received : x.len);
    if (x.mismatch || x.received != x.len) {
        printf("FAILED: %zu of %zu bytes echoed%s\n", x.received, x.len,
               x.mismatch ? ", and they differ from what was sent" : "");
        free(x.sent);
        return 1;
    }
    printf("OK: %zu bytes echoed back exactly\n", x.len);
    free(x.sent);
    return 0;
}
