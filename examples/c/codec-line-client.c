/*
 * codec-line-client: a line-protocol client on nioxide's codecs, the client of
 * codec-kv-server: it sends a script of requests, written in odd fragments (so the server's
 * line decoder has to put lines together), and checks every answer line.
 *
 *   codec-line-client PORT
 *
 * The client's own pipeline frames the answers with the line decoder and reads them as text
 * with the string decoder; its handler compares each with the script's expected answer and
 * prints both. Exits 0 only if every answer was the expected one, 1 otherwise (also on an
 * error or after 30 s without finishing).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nioxide.h>

#define TIMEOUT_MS 30000

/* The script: each request and the answer the server must give. */
static const struct step {
    const char *request, *answer;
} script[] = {
    {"GET colour", "NOT_FOUND"},
    {"SET colour blue", "OK"},
    {"GET colour", "VALUE blue"},
    {"SET greeting h\xc3\xa9llo w\xc3\xb6rld", "OK"},
    {"GET greeting", "VALUE h\xc3\xa9llo w\xc3\xb6rld"},
    {"SET colour green\r", "OK"}, /* "\r\n" ends this line: the "\r" is no part of it */
    {"GET colour", "VALUE green"},
    {"DEL colour", "DELETED"},
    {"DEL colour", "NOT_FOUND"},
    {"FROB x", "ERROR unknown command"},
    {"QUIT", "BYE"},
};
#define STEPS (sizeof script / sizeof script[0])

/* How far the conversation got: answers checked, and whether all matched. */
struct conversation {
    size_t answered;
    int mismatch;
    int done; /* set on the loop thread, read by main */
};

/* Sends the whole script at once, cut into fragments of 1, 2, 3, ... bytes (each its own
 * write, flushed together). */
static int client_active(nx_context_t *ctx, void *attachment)
{
    char all[1024];
    size_t len = 0, at, step;
    int rc = 0;
    (void)attachment;
    for (size_t i = 0; i < STEPS; i++)
        len += (size_t)snprintf(all + len, sizeof all - len, "%s\n", script[i].request);
    for (at = 0, step = 1; at < len && rc == 0; at += step, step++)
        rc = nx_context_write_bytes(ctx, all + at, step < len - at ? step : len - at, NULL);
    if (rc == 0)
        rc = nx_context_flush(ctx);
    return rc == 0 ? nx_context_fire_channel_active(ctx) : rc;
}

static int client_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    struct conversation *c = attachment;
    const char *text;
    size_t len;
    if (nx_message_string(msg, &text, &len) != 0 || c->answered >= STEPS) {
        c->mismatch = 1;
        return 0;
    }
    const struct step *s = &script[c->answered++];
    int ok = strlen(s->answer) == len && memcmp(s->answer, text, len) == 0;
    char shown[128];
    size_t n = 0;
    for (const char *r = s->request; *r != '\0' && n + 3 < sizeof shown; r++) {
        if (*r == '\r') { /* shown, not obeyed */
            shown[n++] = '\\';
            shown[n++] = 'r';
        } else {
            shown[n++] = *r;
        }
    }
    shown[n] = '\0';
    printf("%-32s -> %.*s%s\n", shown, (int)len, text, ok ? "" : "   (WRONG)");
    if (!ok)
        c->mismatch = 1;
    if (c->answered == STEPS) {
        __atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
        return nx_context_close(ctx, NULL);
    }
    return 0;
}

static int client_exception(nx_context_t *ctx, int error, void *attachment)
{
    struct conversation *c = attachment;
    fprintf(stderr, "codec-line-client: %s\n", nx_strerror(error));
    c->mismatch = 1;
    __atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
    return nx_context_close(ctx, NULL);
}

static int client_inactive(nx_context_t *ctx, void *attachment)
{
    struct conversation *c = attachment;
    __atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
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
    nx_handler_t *lines, *strings;
    int rc;
    if ((rc = nx_codec_line_based_frame_decoder(4096, 1, 0, &lines)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "lines", lines, NULL))) {
        nx_handler_free(lines);
        return rc;
    }
    if ((rc = nx_codec_string_decoder(0, &strings)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "strings", strings, NULL))) {
        nx_handler_free(strings);
        return rc;
    }
    return nx_pipeline_add_last(channel, "client", &client_handler, attachment, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "codec-line-client: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    struct conversation c = {0, 0, 0};
    nx_loop_group_t *group;
    nx_bootstrap_t *bootstrap;
    nx_channel_t *channel;
    nx_promise_t *connected;
    struct sockaddr_in addr;
    int rc, waited = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: codec-line-client PORT\n");
        return 2;
    }
    if ((rc = nx_loop_group_new(1, &group)) != 0)
        return fail("nx_loop_group_new", rc);
    if ((rc = nx_bootstrap_new(&bootstrap)) != 0)
        return fail("nx_bootstrap_new", rc);
    nx_bootstrap_group(bootstrap, group);
    nx_bootstrap_handler(bootstrap, init, &c, NULL);
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

    while (!__atomic_load_n(&c.done, __ATOMIC_SEQ_CST) && waited < TIMEOUT_MS) {
        usleep(10000);
        waited += 10;
    }
    nx_channel_close(channel, NULL);
    nx_channel_free(channel);
    nx_bootstrap_free(bootstrap);
    nx_loop_group_shutdown_gracefully(group, 0, 2000);
    nx_loop_group_await_termination(group, -1);
    nx_loop_group_free(group);
    if (c.mismatch || c.answered != STEPS) {
        fprintf(stderr, "codec-line-client: %zu of %zu answers, %s\n", c.answered, STEPS,
                c.mismatch ? "some wrong" : "missing ones");
        return 1;
    }
    printf("every answer as expected\n");
    return 0;
}
