/*
 * length-field-client: the client of length-field-server: it sends messages of several sizes
 * (0 bytes to 65535) framed by the length-field prepender, reads the answers framed by the
 * length-field decoder, and checks that each is its message reversed.
 *
 *   length-field-client PORT
 *
 * Exits 0 only if every answer came back whole and right, 1 otherwise (also on an error or
 * after 30 s without finishing).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nioxide.h>

#define TIMEOUT_MS 30000

static const size_t sizes[] = {0, 1, 5, 300, 4096, 65535, 17};
#define MESSAGES (sizeof sizes / sizeof sizes[0])

struct exchange {
    uint8_t *sent[MESSAGES];
    size_t answered;
    int mismatch;
    int done; /* set on the loop thread, read by main */
};

/* Writes every message (the prepender adds each one's header), then flushes once. */
static int client_active(nx_context_t *ctx, void *attachment)
{
    struct exchange *x = attachment;
    int rc = 0;
    for (size_t i = 0; i < MESSAGES && rc == 0; i++)
        rc = nx_context_write_bytes(ctx, x->sent[i], sizes[i], NULL);
    if (rc == 0)
        rc = nx_context_flush(ctx);
    return rc == 0 ? nx_context_fire_channel_active(ctx) : rc;
}

/* One whole answer: the next message, reversed. */
static int client_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    struct exchange *x = attachment;
    const uint8_t *data;
    size_t len, i = x->answered++;
    int ok = i < MESSAGES && nx_message_bytes(msg, &data, &len) == 0 && len == sizes[i];
    for (size_t k = 0; ok && k < len; k++)
        ok = data[k] == x->sent[i][len - 1 - k];
    printf("message %zu: %zu bytes sent, answer %s\n", i, i < MESSAGES ? sizes[i] : 0,
           ok ? "reversed, whole" : "WRONG");
    if (!ok)
        x->mismatch = 1;
    if (x->answered >= MESSAGES || !ok) {
        __atomic_store_n(&x->done, 1, __ATOMIC_SEQ_CST);
        return nx_context_close(ctx, NULL);
    }
    return 0;
}

static int client_exception(nx_context_t *ctx, int error, void *attachment)
{
    struct exchange *x = attachment;
    fprintf(stderr, "length-field-client: %s\n", nx_strerror(error));
    x->mismatch = 1;
    __atomic_store_n(&x->done, 1, __ATOMIC_SEQ_CST);
    return nx_context_close(ctx, NULL);
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
    .exception_caught = client_exception,
};

static int init(nx_channel_t *channel, void *attachment)
{
    nx_length_field_config_t config = {
        .size = sizeof(config),
        .max_frame_length = 2 + 65535,
        .length_field_length = 2,
        .initial_bytes_to_strip = 2,
        .byte_order = NX_BYTE_ORDER_BIG_ENDIAN,
        .fail_fast = 1,
    };
    nx_handler_t *decoder, *prepender;
    int rc;
    if ((rc = nx_codec_length_field_based_frame_decoder(&config, &decoder)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "frames", decoder, NULL))) {
        nx_handler_free(decoder);
        return rc;
    }
    if ((rc = nx_codec_length_field_prepender(2, NX_BYTE_ORDER_BIG_ENDIAN, 0, 0, &prepender)))
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "prepender", prepender,
                                      NULL))) {
        nx_handler_free(prepender);
        return rc;
    }
    return nx_pipeline_add_last(channel, "client", &client_handler, attachment, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "length-field-client: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    struct exchange x;
    nx_loop_group_t *group;
    nx_bootstrap_t *bootstrap;
    nx_channel_t *channel;
    nx_promise_t *connected;
    struct sockaddr_in addr;
    int rc, waited = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: length-field-client PORT\n");
        return 2;
    }
    memset(&x, 0, sizeof x);
    for (size_t i = 0; i < MESSAGES; i++) {
        x.sent[i] = malloc(sizes[i] + 1);
        if (x.sent[i] == NULL)
            return fail("malloc", -12);
        for (size_t k = 0; k < sizes[i]; k++)
            x.sent[i][k] = (uint8_t)(k * 7 + i);
    }
    if ((rc = nx_loop_group_new(1, &group)) != 0)
        return fail("nx_loop_group_new", rc);
    if ((rc = nx_bootstrap_new(&bootstrap)) != 0)
        return fail("nx_bootstrap_new", rc);
    nx_bootstrap_group(bootstrap, group);
    nx_bootstrap_handler(bootstrap, init, &x, NULL);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = nx_bootstrap_connect(bootstrap, (struct sockaddr *)&addr, sizeof addr, &channel,
                              &connected);
    if (rc != 0)
        return fail("nx_bootstrap_connect", rc);
    if ((rc = nx_promise_wait(connected, TIMEOUT_MS)) != 0 || nx_promise_is_success(connected) != 1) {
        nx_promise_cause(connected, &rc);
        return fail("connect", rc);
    }
    nx_promise_free(connected);

    while (!__atomic_load_n(&x.done, __ATOMIC_SEQ_CST) && waited < TIMEOUT_MS) {
        usleep(10000);
        waited += 10;
    }
    nx_channel_close(channel, NULL);
    nx_channel_free(channel);
    nx_bootstrap_free(bootstrap);
    nx_loop_group_shutdown_gracefully(group, 0, 2000);
    nx_loop_group_await_termination(group, -1);
    nx_loop_group_free(group);
    for (size_t i = 0; i < MESSAGES; i++)
        free(x.sent[i]);
    if (x.mismatch || x.answered != MESSAGES) {
        fprintf(stderr, "length-field-client: %zu of %zu answers right\n",
                x.mismatch ? 0 : x.answered, MESSAGES);
        return 1;
    }
    printf("every answer whole and reversed\n");
    return 0;
}
