/*
 * aio-echo-client: an echo client on nioxide's completion-handler channels, with futures.
 *
 *   aio-echo-client PORT [MESSAGE...]
 *
 * Connects to 127.0.0.1:PORT, sends each MESSAGE (or a default set, one of them 1 MiB of
 * random bytes), reads the echo back and checks every byte, prints what was exchanged, then
 * closes. Exits 0 only if every byte came back as sent, 1 otherwise.
 *
 * The pattern is Java's Future style (seed 002's client): each operation returns a future
 * (an nx_promise_t) that main waits on; nx_aio_result gives the operation's result. The
 * write is nx_aio_socket_write_all_future (the whole message leaves, in order); reads come
 * back in whatever pieces the network gives.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nioxide.h>

#define TIMEOUT_MS 30000
#define BIG_SIZE (1024 * 1024)

static int fail(const char *what, int rc)
{
    fprintf(stderr, "aio-echo-client: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

/* Waits for a future, frees it, and returns its result (or error). */
static int64_t await(nx_promise_t *future)
{
    int64_t result = 0;
    int rc = nx_promise_wait(future, TIMEOUT_MS);
    if (rc == 0)
        rc = nx_aio_result(future, &result);
    nx_promise_free(future);
    return rc == 0 ? result : rc;
}

/* Sends one message and checks its echo; returns 0 if every byte came back. */
static int exchange(nx_aio_socket_t *channel, const unsigned char *msg, size_t len)
{
    unsigned char *echo = malloc(len > 0 ? len : 1);
    nx_promise_t *future = NULL;
    size_t got = 0;
    int64_t n;
    int rc;

    if (echo == NULL)
        return 1;
    if ((rc = nx_aio_socket_write_all_future(channel, msg, len, &future)) != 0) {
        free(echo);
        return fail("nx_aio_socket_write_all_future", rc);
    }
    if ((n = await(future)) != (int64_t)len) {
        free(echo);
        return fail("write_all", (int)n);
    }
    while (got < len) {
        if ((rc = nx_aio_socket_read_future(channel, echo + got, len - got, TIMEOUT_MS,
                                            &future)) != 0) {
            free(echo);
            return fail("nx_aio_socket_read_future", rc);
        }
        n = await(future);
        if (n <= 0) {
            free(echo);
            return fail("read", n == NX_EOF ? NX_EOF : (int)n);
        }
        got += (size_t)n;
    }
    rc = memcmp(echo, msg, len) != 0;
    free(echo);
    if (rc)
        fprintf(stderr, "aio-echo-client: the echo differs from what was sent\n");
    return rc;
}

int main(int argc, char **argv)
{
    nx_aio_group_t *group = NULL;
    nx_aio_socket_t *channel = NULL;
    nx_promise_t *connected = NULL;
    struct sockaddr_in addr;
    unsigned char *big;
    int64_t result;
    int rc, failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: aio-echo-client PORT [MESSAGE...]\n");
        return 1;
    }
    if ((rc = nx_aio_group_new(1, &group)) != 0)
        return fail("nx_aio_group_new", rc);
    if ((rc = nx_aio_socket_open(group, &channel)) != 0)
        return fail("nx_aio_socket_open", rc);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((rc = nx_aio_socket_connect_future(channel, (struct sockaddr *)&addr, sizeof(addr),
                                           TIMEOUT_MS, &connected)) != 0)
        return fail("nx_aio_socket_connect_future", rc);
    if ((result = await(connected)) != 0)
        return fail("connect", (int)result);

    if (argc > 2) {
        for (int i = 2; i < argc && !failed; i++) {
            failed = exchange(channel, (const unsigned char *)argv[i], strlen(argv[i]));
            printf("sent %zu bytes: \"%s\", echo %s\n", strlen(argv[i]), argv[i],
                   failed ? "differs" : "matches");
        }
    } else {
        const char *hello = "hello from the C AIO client";
        failed = exchange(channel, (const unsigned char *)hello, strlen(hello));
        printf("sent \"%s\", echo %s\n", hello, failed ? "differs" : "matches");
        big = malloc(BIG_SIZE);
        if (big == NULL)
            return 1;
        srand(2024);
        for (size_t i = 0; i < BIG_SIZE; i++)
            big[i] = (unsigned char)rand();
        if (!failed) {
            failed = exchange(channel, big, BIG_SIZE);
            printf("sent 1 MiB of random bytes, echo %s\n", failed ? "differs" : "matches");
        }
        free(big);
    }
    nx_aio_socket_free(channel);
    nx_aio_group_free(group);
    return failed ? 1 : 0;
}
