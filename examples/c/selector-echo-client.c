/*
 * selector-echo-client: an echo client on nioxide's Selector, the C twin of Java NIO's
 * Selector client (seed 002's NioClient).
 *
 *   selector-echo-client PORT [MESSAGE...]
 *
 * Connects to 127.0.0.1:PORT without blocking (NX_OP_CONNECT, then finish_connect), sends each
 * MESSAGE in turn (or a default set, one of them 1 MiB so that writes come out partial), reads
 * each echo back and prints what was exchanged. Then it half-closes its side and waits for
 * the server to close. Exits 0 only if every byte came back as sent, 1 otherwise (also on an
 * error or after 30 s without finishing).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nioxide.h>

#define TIMEOUT_MS 30000
#define BIG_SIZE (1024 * 1024)

static int fail(const char *what, int rc)
{
    fprintf(stderr, "selector-echo-client: %s: %s (%s)\n", what, nx_strerror(rc),
            nx_err_name(rc));
    return 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints a message, shortened when long. */
static void show(const char *label, const unsigned char *data, size_t len)
{
    if (len <= 60)
        printf("%s %zu bytes: \"%.*s\"\n", label, len, (int)len, (const char *)data);
    else
        printf("%s %zu bytes: \"%.24s...%.24s\"\n", label, len, (const char *)data,
               (const char *)data + len - 24);
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"Hello, nioxide!", "I am Coming", "66666666", NULL};
    const char **messages;
    size_t *lengths, nmessages = 0, i;
    unsigned char *big = NULL, *echo = NULL;
    size_t max_len = 0;
    nx_selector_t *sel = NULL;
    nx_socket_channel_t *channel = NULL;
    nx_selection_key_t *key = NULL;
    struct sockaddr_in addr;
    size_t current = 0, sent = 0, received = 0;
    int rc, status = 1, matched = 1, done = 0;
    long long deadline = now_ms() + TIMEOUT_MS;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [MESSAGE...]\n", argv[0]);
        return 2;
    }

    /* The messages: those given, or the defaults plus one big one. */
    messages = calloc((size_t)argc + 4, sizeof *messages);
    lengths = calloc((size_t)argc + 4, sizeof *lengths);
    if (messages == NULL || lengths == NULL)
        return 1;
    if (argc > 2) {
        for (i = 2; i < (size_t)argc; i++)
            if (argv[i][0] != '\0') /* an empty message would have no echo to wait for */
                messages[nmessages++] = argv[i];
    }
    if (nmessages == 0) {
        for (i = 0; defaults[i] != NULL; i++)
            messages[nmessages++] = defaults[i];
        big = malloc(BIG_SIZE);
        if (big == NULL)
            return 1;
        for (i = 0; i < BIG_SIZE; i++)
            big[i] = (unsigned char)"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
        messages[nmessages++] = (const char *)big;
    }
    for (i = 0; i < nmessages; i++) {
        lengths[i] = (const unsigned char *)messages[i] == big ? BIG_SIZE : strlen(messages[i]);
        if (lengths[i] > max_len)
            max_len = lengths[i];
    }
    echo = malloc(max_len + 1);
    if (echo == NULL)
        return 1;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* Java: SocketChannel.open(); configureBlocking(false); connect(address) returns whether
     * it connected at once; if not, register for OP_CONNECT and finishConnect() later. */
    if ((rc = nx_selector_open(&sel)) < 0 || (rc = nx_socket_channel_open(&channel)) < 0 ||
        (rc = nx_socket_channel_configure_blocking(channel, 0)) < 0 ||
        (rc = nx_socket_channel_set_option(channel, NX_TCP_NODELAY, 1)) < 0) {
        fail("set-up", rc);
        goto out;
    }
    rc = nx_socket_channel_connect(channel, (struct sockaddr *)&addr, sizeof addr);
    if (rc < 0 && rc != -EINPROGRESS) {
        fail("connect", rc);
        goto out;
    }
    rc = nx_socket_channel_register(channel, sel,
                                    rc == 0 ? NX_OP_READ | NX_OP_WRITE : NX_OP_CONNECT,
                                    NULL, NULL, &key);
    if (rc < 0) {
        fail("register", rc);
        goto out;
    }

    while (!done) {
        size_t ready = 0, cursor = 0;
        nx_selection_key_t *k;
        long long left = deadline - now_ms();

        if (left <= 0) {
            fprintf(stderr, "selector-echo-client: timed out\n");
            goto out;
        }
        if ((rc = nx_selector_select(sel, left, &ready)) < 0) {
            fail("select", rc);
            goto out;
        }
        /* One channel, so at most one key; walked the usual way all the same. */
        while (!done && nx_selector_next_selected(sel, &cursor, &k) == 0) {
            if (nx_selection_key_is_connectable(k) == 1) {
                rc = nx_socket_channel_finish_connect(channel);
                if (rc == -EINPROGRESS)
                    continue; /* not yet */
                if (rc < 0) {
                    fail("connect", rc); /* e.g. -ECONNREFUSED */
                    goto out;
                }
                printf("connected to 127.0.0.1:%s\n", argv[1]);
                nx_selection_key_set_interest_ops(k, NX_OP_READ | NX_OP_WRITE);
                continue;
            }
            if (nx_selection_key_is_writable(k) == 1 && current < nmessages) {
                /* Send what is left of the current message: a write may take only part. */
                size_t written = 0;
                rc = nx_socket_channel_write(channel, messages[current] + sent,
                                             lengths[current] - sent, &written);
                if (rc < 0) {
                    fail("write", rc);
                    goto out;
                }
                sent += written;
                if (sent == lengths[current]) { /* all out: wait for the echo only */
                    show("sent", (const unsigned char *)messages[current], lengths[current]);
                    nx_selection_key_set_interest_ops(k, NX_OP_READ);
                }
            }
            if (nx_selection_key_is_readable(k) == 1) {
                size_t count = 0;
                size_t want = current < nmessages ? lengths[current] - received : 1;
                rc = nx_socket_channel_read(channel, echo + received, want, &count);
                if (rc == NX_EOF && current == nmessages) {
                    printf("server closed the connection\n");
                    done = 1; /* every echo is in: the normal end */
                    break;
                }
                if (rc < 0) { /* NX_EOF here: the server closed before echoing everything */
                    fail("read", rc);
                    goto out;
                }
                if (current == nmessages) {
                    if (count > 0) {
                        fprintf(stderr, "selector-echo-client: unexpected bytes after the last echo\n");
                        matched = 0;
                    }
                    continue;
                }
                received += count;
                if (received < lengths[current])
                    continue; /* the rest of the echo is still on its way */
                show("echo", echo, received);
                if (memcmp(echo, messages[current], received) != 0) {
                    printf("  MISMATCH: the echo differs from what was sent\n");
                    matched = 0;
                }
                current++;
                sent = received = 0;
                if (current < nmessages) {
                    nx_selection_key_set_interest_ops(k, NX_OP_READ | NX_OP_WRITE);
                } else {
                    /* All exchanged: half-close (the server sees end of stream and closes). */
                    if ((rc = nx_socket_channel_shutdown_output(channel)) < 0) {
                        fail("shutdown_output", rc);
                        goto out;
                    }
                }
            }
        }
    }
    printf("%s: %zu messages exchanged\n", matched ? "OK" : "FAILED", nmessages);
    status = matched ? 0 : 1;

out:
    nx_socket_channel_free(channel); /* also cancels the key */
    nx_selector_free(sel);
    free(echo);
    free(big);
    free(messages);
    free(lengths);
    return status;
}
