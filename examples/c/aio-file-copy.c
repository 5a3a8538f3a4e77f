/*
 * aio-file-copy: copies a file with nioxide's asynchronous file channels.
 *
 *   aio-file-copy SOURCE DESTINATION
 *
 * A handler chain read → write → read at increasing positions, its state (both channels, the
 * position, the buffer) in the attachment; the reads and writes run on the group's pool of
 * blocking threads, the handlers on its loop thread. Main waits for the chain to end.
 * Exits 0 once DESTINATION holds a copy of SOURCE (created, or truncated first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nioxide.h>

struct copy {
    nx_aio_file_t *in, *out;
    int64_t position; /* of the chunk being copied */
    size_t len;       /* bytes of it read, not yet written */
    size_t written;   /* bytes of it written */
    int error;
    int done; /* set on the loop thread, read by main */
    unsigned char buf[65536];
};

static void read_done(int64_t result, void *attachment);
static void write_done(int64_t result, void *attachment);
static void copy_failed(int error, void *attachment);

static const nx_completion_handler_t read_handler = {read_done, copy_failed};
static const nx_completion_handler_t write_handler = {write_done, copy_failed};

static void end(struct copy *c, int error)
{
    c->error = error;
    __atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
}

static void start_read(struct copy *c)
{
    int rc = nx_aio_file_read(c->in, c->buf, sizeof(c->buf), c->position, c, &read_handler);
    if (rc != 0)
        end(c, rc);
}

static void start_write(struct copy *c)
{
    int rc = nx_aio_file_write(c->out, c->buf + c->written, c->len - c->written,
                               c->position + (int64_t)c->written, c, &write_handler);
    if (rc != 0)
        end(c, rc);
}

static void read_done(int64_t result, void *attachment)
{
    struct copy *c = attachment;
    if (result == NX_EOF) {
        end(c, 0);
        return;
    }
    c->len = (size_t)result;
    c->written = 0;
    start_write(c);
}

static void write_done(int64_t result, void *attachment)
{
    struct copy *c = attachment;
    c->written += (size_t)result;
    if (c->written < c->len) {
        start_write(c);
        return;
    }
    c->position += (int64_t)c->len;
    start_read(c);
}

static void copy_failed(int error, void *attachment)
{
    end(attachment, error);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "aio-file-copy: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    nx_aio_group_t *group = NULL;
    struct copy *c;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: aio-file-copy SOURCE DESTINATION\n");
        return 1;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return 1;
    if ((rc = nx_aio_group_new(1, &group)) != 0)
        return fail("nx_aio_group_new", rc);
    if ((rc = nx_aio_file_open(group, argv[1], NX_FILE_READ, &c->in)) != 0)
        return fail(argv[1], rc);
    if ((rc = nx_aio_file_open(group, argv[2], NX_FILE_WRITE | NX_FILE_CREATE | NX_FILE_TRUNCATE,
                               &c->out)) != 0)
        return fail(argv[2], rc);
    start_read(c);
    while (!__atomic_load_n(&c->done, __ATOMIC_SEQ_CST)) {
        struct timespec tick = {0, 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    rc = c->error;
    if (rc == 0)
        rc = nx_aio_file_force(c->out, 1);
    if (rc == 0)
        printf("copied %lld bytes\n", (long long)c->position);
    nx_aio_file_free(c->in);
    nx_aio_file_free(c->out);
    nx_aio_group_free(group);
    free(c);
    return rc == 0 ? 0 : fail("copy", rc);
}
