/*
 * codec-kv-server: a tiny key-value server on nioxide's codecs: the line decoder frames the
 * requests, the string decoder makes them text, the user's handler (below, in C) answers
 * each with one line through the string encoder.
 *
 *   codec-kv-server [PORT [CONNECTIONS]]
 *
 * Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
 * "listening on 127.0.0.1:PORT" as its first line. Exits after CONNECTIONS connections have
 * closed (0 or nothing: never), or on SIGTERM/SIGINT.
 *
 * The protocol, one request per line ("\n" or "\r\n"), one answer line per request:
 *   SET key value   -> OK              (the value is the rest of the line, spaces included)
 *   GET key         -> VALUE value     or NOT_FOUND
 *   DEL key         -> DELETED         or NOT_FOUND
 *   QUIT            -> BYE             (the client then closes the connection)
 *   anything else   -> ERROR unknown command
 * A line over 1024 bytes is discarded by the decoder (NX_ETOOLONG reaches exception_caught):
 * the answer is "ERROR line too long". A line that is not UTF-8: "ERROR not UTF-8" (the
 * string decoder is strict). The store is shared by all connections; the server has one loop
 * thread, so only that thread touches it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nioxide.h>

#define MAX_LINE 1024

static volatile sig_atomic_t stop_requested;
static int closed_connections; /* updated on the loop thread */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The store: a singly linked list (a demo holds few keys). Loop thread only. */
struct entry {
    struct entry *next;
    char *key, *value;
};
static struct entry *store;

static struct entry **find(const char *key, size_t key_len)
{
    struct entry **at = &store;
    for (; *at != NULL; at = &(*at)->next)
        if (strlen((*at)->key) == key_len && memcmp((*at)->key, key, key_len) == 0)
            return at;
    return at;
}

static char *copy(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (c != NULL) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

static void drop(struct entry *e)
{
    free(e->key);
    free(e->value);
    free(e);
}

/* Writes one answer line (a string message: the string encoder makes it bytes). */
static int answer(nx_context_t *ctx, const char *text, size_t len)
{
    char line[MAX_LINE + 16];
    nx_message_t *msg;
    int rc;
    if (len > MAX_LINE)
        len = MAX_LINE;
    memcpy(line, text, len);
    line[len] = '\n';
    if ((rc = nx_message_new_string(line, len + 1, &msg)) != 0)
        return rc;
    rc = nx_context_write(ctx, msg, NULL);
    nx_message_release(msg); /* the write took its own reference */
    return rc;
}

#define ANSWER(ctx, literal) answer((ctx), (literal), sizeof(literal) - 1)

/* One request: `line` is the text of one line, `len` bytes, not NUL-terminated. */
static int kv_read(nx_context_t *ctx, nx_message_t *msg, void *attachment)
{
    const char *line, *key, *rest;
    size_t len, key_len;
    (void)attachment;
    if (nx_message_string(msg, &line, &len) != 0)
        return ANSWER(ctx, "ERROR not a line");
    if (len == 4 && memcmp(line, "QUIT", 4) == 0)
        return ANSWER(ctx, "BYE");
    if (len < 5 || line[3] != ' ')
        return ANSWER(ctx, "ERROR unknown command");
    key = line + 4;
    rest = memchr(key, ' ', len - 4);
    key_len = rest != NULL ? (size_t)(rest - key) : len - 4;
    if (memcmp(line, "SET", 3) == 0 && rest != NULL && key_len > 0) {
        struct entry **at = find(key, key_len);
        char *value = copy(rest + 1, (size_t)(line + len - rest - 1));
        if (value == NULL)
            return ANSWER(ctx, "ERROR out of memory");
        if (*at != NULL) {
            free((*at)->value);
            (*at)->value = value;
        } else {
            struct entry *e = malloc(sizeof *e);
            char *k = copy(key, key_len);
            if (e == NULL || k == NULL) {
                free(e);
                free(k);
                free(value);
                return ANSWER(ctx, "ERROR out of memory");
            }
            e->next = store;
            e->key = k;
            e->value = value;
            store = e;
        }
        return ANSWER(ctx, "OK");
    }
    if (memcmp(line, "GET", 3) == 0 && rest == NULL) {
        struct entry **at = find(key, key_len);
        char reply[MAX_LINE + 8];
        if (*at == NULL)
            return ANSWER(ctx, "NOT_FOUND");
        int n = snprintf(reply, sizeof reply, "VALUE %s", (*at)->value);
        return answer(ctx, reply, n < 0 ? 0 : (size_t)n);
    }
    if (memcmp(line, "DEL", 3) == 0 && rest == NULL) {
        struct entry **at = find(key, key_len), *e = *at;
        if (e == NULL)
            return ANSWER(ctx, "NOT_FOUND");
        *at = e->next;
        drop(e);
        return ANSWER(ctx, "DELETED");
    }
    return ANSWER(ctx, "ERROR unknown command");
}

/* The answers of one read batch go out together. */
static int kv_read_complete(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    return nx_context_flush(ctx);
}

static int kv_inactive(nx_context_t *ctx, void *attachment)
{
    (void)attachment;
    __atomic_fetch_add(&closed_connections, 1, __ATOMIC_SEQ_CST);
    return nx_context_fire_channel_inactive(ctx);
}

/* Errors in the stream get an answer; the connection goes on. Others close it. */
static int kv_exception(nx_context_t *ctx, int error, void *attachment)
{
    (void)attachment;
    if (error == NX_ETOOLONG)
        return ANSWER(ctx, "ERROR line too long");
    if (error == NX_EMALFORMED)
        return ANSWER(ctx, "ERROR not UTF-8");
    fprintf(stderr, "codec-kv-server: %s\n", nx_strerror(error));
    return nx_context_close(ctx, NULL);
}

static const nx_channel_handler_t kv_handler = {
    .size = sizeof(nx_channel_handler_t),
    .channel_read = kv_read,
    .channel_read_complete = kv_read_complete,
    .channel_inactive = kv_inactive,
    .exception_caught = kv_exception,
};

/* Each connection's pipeline: lines -> strings -> (encoder for the answers) -> kv. */
static int init_child(nx_channel_t *channel, void *attachment)
{
    nx_handler_t *lines, *strings, *encoder;
    int rc;
    (void)attachment;
    if ((rc = nx_codec_line_based_frame_decoder(MAX_LINE, 1, 0, &lines)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "lines", lines, NULL))) {
        nx_handler_free(lines); /* a failed add leaves it ours */
        return rc;
    }
    if ((rc = nx_codec_string_decoder(1, &strings)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "strings", strings, NULL))) {
        nx_handler_free(strings);
        return rc;
    }
    if ((rc = nx_codec_string_encoder(&encoder)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "encoder", encoder, NULL))) {
        nx_handler_free(encoder);
        return rc;
    }
    return nx_pipeline_add_last(channel, "kv", &kv_handler, NULL, NULL, NULL);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "codec-kv-server: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
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
    while (store != NULL) { /* the loop thread has ended: the store is ours now */
        struct entry *e = store;
        store = e->next;
        drop(e);
    }
    return 0;
}
