/*
 * selector-echo-server: an echo server on nioxide's Selector, the C twin of Java NIO's
 * Selector server (seed 002's NioServer, made into an echo).
 *
 *   selector-echo-server [PORT [CONNECTIONS]]
 *
 * Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
 * "listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
 * Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/SIGINT.
 *
 * The pattern, as in Java:
 *   - one Selector; the listening channel registered for NX_OP_ACCEPT;
 *   - each accepted channel non-blocking, registered for NX_OP_READ, with its own buffer as the
 *     key's attachment (nioxide frees it with the function given at register time);
 *   - read what arrived, write it back; bytes the socket would not take yet stay in the buffer
 *     and the key asks for NX_OP_WRITE (and no longer NX_OP_READ) until they are gone, so a
 *     client that does not read cannot make the server buffer without bound;
 *   - end of stream (NX_EOF): close the connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nioxide.h>

/* One client connection, the key's attachment. */
struct conn {
    nx_socket_channel_t *channel;
    struct conn *prev, *next;   /* the open connections, to close them at shutdown */
    unsigned id;
    unsigned long long echoed;  /* bytes echoed so far */
    size_t start, end;          /* bytes read but not yet written back: buf[start..end) */
    unsigned char buf[4096];
};

static struct conn *open_conns;
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "selector-echo-server: %s: %s (%s)\n", what, nx_strerror(rc),
            nx_err_name(rc));
    return 1;
}

/* Closes a connection. Freeing the channel closes it and cancels its key; the key then frees
 * the conn (the attachment) with free(), so c must not be used afterwards. */
static void close_conn(struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        open_conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    nx_socket_channel_free(c->channel);
}

static void accept_conn(nx_server_socket_channel_t *server, nx_selector_t *sel)
{
    static unsigned next_id = 1;
    nx_socket_channel_t *channel = NULL;
    struct conn *c;
    int rc = nx_server_socket_channel_accept(server, &channel);

    if (rc < 0) {
        fail("accept", rc); /* e.g. too many open files: nioxide holds the readiness back */
        return;
    }
    if (channel == NULL)
        return; /* another thread or an earlier turn took it: nothing to accept now */
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        nx_socket_channel_free(channel);
        return;
    }
    c->channel = channel;
    c->id = next_id++;
    /* Accepted channels start in blocking mode, as in Java: a selector needs non-blocking. */
    rc = nx_socket_channel_configure_blocking(channel, 0);
    if (rc == 0)
        rc = nx_socket_channel_set_option(channel, NX_TCP_NODELAY, 1);
    if (rc == 0)
        rc = nx_socket_channel_register(channel, sel, NX_OP_READ, c, free, NULL);
    if (rc < 0) {
        /* A failed register keeps nothing: the conn is still ours to free. */
        fail("register", rc);
        nx_socket_channel_free(channel);
        free(c);
        return;
    }
    c->next = open_conns;
    if (open_conns != NULL)
        open_conns->prev = c;
    open_conns = c;
    printf("connection %u: accepted\n", c->id);
}

/* Writes back what is pending; then asks for NX_OP_WRITE while bytes are left, else for
 * NX_OP_READ. Returns 0, or a negative error. */
static int write_pending(nx_selection_key_t *key, struct conn *c)
{
    while (c->start < c->end) {
        size_t written = 0;
        int rc = nx_socket_channel_write(c->channel, c->buf + c->start, c->end - c->start,
                                         &written);
        if (rc < 0)
            return rc;
        if (written == 0)
            break; /* the socket's send buffer is full: wait for NX_OP_WRITE */
        c->start += written;
        c->echoed += written;
    }
    if (c->start == c->end)
        c->start = c->end = 0;
    return nx_selection_key_set_interest_ops(key, c->end > 0 ? NX_OP_WRITE : NX_OP_READ);
}

/* Returns 1 when the connection closed, else 0. */
static int serve(nx_selection_key_t *key, uint32_t ready, struct conn *c)
{
    int rc = 0;

    if (ready & NX_OP_WRITE)
        rc = write_pending(key, c);
    else if (ready & NX_OP_READ) {
        size_t count = 0;
        rc = nx_socket_channel_read(c->channel, c->buf, sizeof c->buf, &count);
        if (rc == NX_EOF) {
            printf("connection %u: end of stream after %llu bytes echoed, closing\n", c->id,
                   c->echoed);
            close_conn(c);
            return 1;
        }
        if (rc == 0 && count > 0) { /* count 0: nothing there after all (would block) */
            c->start = 0;
            c->end = count;
            rc = write_pending(key, c);
        }
    }
    if (rc < 0) { /* e.g. -ECONNRESET: the peer went away */
        printf("connection %u: %s, closing\n", c->id, nx_strerror(rc));
        close_conn(c);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    long max_conns = argc > 2 ? atol(argv[2]) : 0;
    long closed = 0;
    nx_selector_t *sel = NULL;
    nx_server_socket_channel_t *server = NULL;
    struct sockaddr_in addr;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    struct sigaction sa;
    int rc, status = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* Java: Selector.open(); ServerSocketChannel.open(); bind; configureBlocking(false);
     * register(selector, OP_ACCEPT). */
    if ((rc = nx_selector_open(&sel)) < 0)
        return fail("selector", rc);
    if ((rc = nx_server_socket_channel_open(&server)) < 0 ||
        (rc = nx_server_socket_channel_bind(server, (struct sockaddr *)&addr, sizeof addr,
                                            128)) < 0 ||
        (rc = nx_server_socket_channel_configure_blocking(server, 0)) < 0 ||
        (rc = nx_server_socket_channel_register(server, sel, NX_OP_ACCEPT, NULL, NULL,
                                                NULL)) < 0 ||
        (rc = nx_server_socket_channel_local_address(server, &local, &local_len)) < 0) {
        status = fail("listen", rc);
        goto out;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
    fflush(stdout);

    while (!stop_requested && (max_conns == 0 || closed < max_conns)) {
        size_t ready = 0, cursor = 0;
        nx_selection_key_t *key;

        /* Wait up to 500 ms: nioxide resumes its wait after a signal, so the loop looks at
         * stop_requested at least that often. */
        rc = nx_selector_select(sel, 500, &ready);
        if (rc < 0) {
            status = fail("select", rc);
            break;
        }
        /* Walk the selected keys with their ready ops and attachments (the iterator
         * allocates nothing; nx_selector_next_selected gives the keys alone). */
        uint32_t ops;
        void *attachment;
        while (nx_selector_next_ready(sel, &cursor, &key, &ops, &attachment) == 0) {
            if (ops & NX_OP_ACCEPT)
                accept_conn(server, sel);
            else if (attachment != NULL)
                closed += serve(key, ops, attachment);
        }
        fflush(stdout);
    }

out:
    while (open_conns != NULL)
        close_conn(open_conns);
    nx_server_socket_channel_free(server);
    nx_selector_free(sel);
    return status;
}
