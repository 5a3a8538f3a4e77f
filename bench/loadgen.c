/*
 * loadgen: the benchmark's load generator.
 *
 * Keeps one message (64 bytes by default) in flight on each of N connections to an echo server:
 * send it, read the echo back, check every byte, send the next one. Single-threaded,
 * level-triggered epoll, TCP_NODELAY.
 *
 *   loadgen -p PORT [-a 127.0.0.1] [-c CONNS] [-s SIZE] [-l LINE] [-w WARMUP_S] [-d DURATION_S]
 *           [-m MARK_COMMAND] [-t STALL_S]
 *
 * With -l LINE (the line benchmark, bench/lines) each message is SIZE / LINE lines of LINE
 * bytes, each ending in '\n' (no other byte is one), sent in one write: a line-framing server
 * cuts them apart and writes each back, so the echo is the same bytes.
 *
 * Phases: warm-up (messages flow, nothing counted); drain (no new messages until every echo is
 * back); MARK_COMMAND runs with BENCH_PHASE=start in its environment (bench/run.sh uses it to
 * take the server's rusage, or to zero callgrind's counters, while nothing is in flight); the
 * measured window (DURATION_S of messages, then a drain); MARK_COMMAND with BENCH_PHASE=end.
 * So the window between the two marks holds exactly the requests counted, no partial ones.
 *
 * Prints one line: "loadgen conns=N size=S requests=R seconds=T rps=X" (with -l, then
 * " line=L lines=R*S/L"). Exits 0 on success,
 * 1 on a wrong echoed byte or a closed connection, 2 on a stall (no echo for STALL_S seconds)
 * or a set-up error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536 /* the stream figure sends 64 KiB messages */

struct conn {
    int fd;
    uint32_t id;
    uint32_t seq;       /* number of the message in flight */
    size_t sent;        /* bytes of it written so far */
    size_t got;         /* bytes of its echo read so far */
    int in_flight;      /* a message is out and its echo not fully back */
    int want_out;       /* EPOLLOUT is on (a partial write is pending) */
};

static size_t msg_size = 64;
static size_t line_size = 0; /* -l: the length of each line, its '\n' included; 0: no lines */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char pattern(const struct conn *c, size_t i)
{
    unsigned char b = (unsigned char)((c->id * 31u) ^ (c->seq * 7u) ^ (uint32_t)(i * 13u));
    if (line_size == 0)
        return b;
    if (i % line_size == line_size - 1)
        return '\n';
    return b == '\n' ? (unsigned char)'\n' + 1 : b;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void set_events(int ep, struct conn *c, int want_out)
{
    struct epoll_event ev;
    if (c->want_out == want_out)
        return;
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl");
    c->want_out = want_out;
}

/* Writes what is left of the current message; turns EPOLLOUT on while some is left. */
static void send_rest(int ep, struct conn *c)
{
    unsigned char buf[MAX_SIZE];
    size_t i;
    for (i = c->sent; i < msg_size; i++)
        buf[i] = pattern(c, i);
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, buf + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            fprintf(stderr, "loadgen: connection %u: send: %s\n", c->id, strerror(errno));
            exit(1);
        }
    }
    set_events(ep, c, c->sent < msg_size);
}

static void start_message(int ep, struct conn *c)
{
    c->seq++;
    c->sent = 0;
    c->got = 0;
    c->in_flight = 1;
    send_rest(ep, c);
}

static int fcntl_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void run_mark(const char *cmd, const char *phase)
{
    int rc;
    if (cmd == NULL)
        return;
    setenv("BENCH_PHASE", phase, 1);
    rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "loadgen: mark command (%s) failed: %d\n", phase, rc);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    const char *mark = NULL;
    int port = 0, nconns = 1, opt, ep, i;
    double warmup = 1.0, duration = 5.0, stall = 10.0;
    struct sockaddr_in sa;
    struct conn *conns;
    struct epoll_event *events;
    enum { WARMUP, DRAIN_WARMUP, MEASURE, DRAIN_MEASURE, DONE } phase;
    double t_phase_end, t_start = 0, t_end = 0, t_last_progress;
    uint64_t counted = 0;
    int in_flight = 0;

    while ((opt = getopt(argc, argv, "a:p:c:s:l:w:d:m:t:")) != -1) {
        switch (opt) {
        case 'a': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 's': msg_size = (size_t)atol(optarg); break;
        case 'l': line_size = (size_t)atol(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'm': mark = optarg; break;
        case 't': stall = atof(optarg); break;
        default:
            fprintf(stderr, "usage: %s -p PORT [-a HOST] [-c CONNS] [-s SIZE] [-l LINE] "
                            "[-w WARMUP_S] [-d DURATION_S] [-m MARK_COMMAND] [-t STALL_S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || nconns < 1 || msg_size < 1 || msg_size > MAX_SIZE ||
        (line_size != 0 && (line_size < 2 || msg_size % line_size != 0))) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
        return 2;
    }

    conns = calloc((size_t)nconns, sizeof *conns);
    events = calloc((size_t)nconns, sizeof *events);
    if (conns == NULL || events == NULL)
        die("calloc");
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");

    /* Blocking connects, one after the other: the kernel completes them from the listen
     * backlog even while the server is slow (under valgrind). */
    for (i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        struct epoll_event ev;
        int one = 1;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            die("socket");
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect");
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            die("setsockopt");
        if (fcntl_nonblock(c->fd) != 0)
            die("fcntl");
        c->id = (uint32_t)i;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            die("epoll_ctl");
    }

    phase = warmup > 0 ? WARMUP : DRAIN_WARMUP;
    t_phase_end = now_s() + warmup;
    if (phase == WARMUP) {
        for (i = 0; i < nconns; i++)
            start_message(ep, &conns[i]);
        in_flight = nconns;
    }
    t_last_progress = now_s();

    while (phase != DONE) {
        int n, k;
        double t;

        if (in_flight == 0) {
            if (phase == DRAIN_WARMUP) {
                run_mark(mark, "start");
                phase = MEASURE;
                t_start = now_s();
                t_phase_end = t_start + duration;
                for (i = 0; i < nconns; i++)
                    start_message(ep, &conns[i]);
                in_flight = nconns;
                t_last_progress = t_start;
            } else if (phase == DRAIN_MEASURE) {
                t_end = now_s();
                phase = DONE;
                break;
            }
        }

        n = epoll_wait(ep, events, nconns, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        t = now_s();
        if (phase == WARMUP && t >= t_phase_end)
            phase = DRAIN_WARMUP;
        else if (phase == MEASURE && t >= t_phase_end)
            phase = DRAIN_MEASURE;

        for (k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            if ((events[k].events & EPOLLOUT) && c->sent < msg_size)
                send_rest(ep, c);
            if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                unsigned char buf[MAX_SIZE];
                ssize_t r = recv(c->fd, buf, msg_size - c->got, 0);
                size_t j;
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                    continue;
                if (r <= 0) {
                    fprintf(stderr, "loadgen: connection %u: %s\n", c->id,
                            r == 0 ? "closed by the server" : strerror(errno));
                    return 1;
                }
                if (!c->in_flight) {
                    fprintf(stderr, "loadgen: connection %u: unexpected bytes\n", c->id);
                    return 1;
                }
                for (j = 0; j < (size_t)r; j++) {
                    if (buf[j] != pattern(c, c->got + j)) {
                        fprintf(stderr, "loadgen: connection %u message %u byte %zu: "
                                        "got 0x%02x, sent 0x%02x\n", c->id, c->seq,
                                c->got + j, buf[j], pattern(c, c->got + j));
                        return 1;
                    }
                }
                c->got += (size_t)r;
                if (c->got < msg_size)
                    continue;
                /* A whole echo is back. */
                c->in_flight = 0;
                in_flight--;
                t_last_progress = t;
                if (phase == MEASURE || phase == DRAIN_MEASURE)
                    counted++;
                if (phase == WARMUP || phase == MEASURE) {
                    start_message(ep, c);
                    in_flight++;
                }
            }
        }
        if (t - t_last_progress > stall) {
            fprintf(stderr, "loadgen: stalled: no echo for %.1f s (%d in flight)\n", stall,
                    in_flight);
            return 2;
        }
    }

    run_mark(mark, "end");
    printf("loadgen conns=%d size=%zu requests=%llu seconds=%.6f rps=%.1f", nconns, msg_size,
           (unsigned long long)counted, t_end - t_start,
           t_end > t_start ? (double)counted / (t_end - t_start) : 0.0);
    if (line_size != 0)
        printf(" line=%zu lines=%llu", line_size,
               (unsigned long long)(counted * (msg_size / line_size)));
    printf("\n");
    fflush(stdout);
    for (i = 0; i < nconns; i++)
        close(conns[i].fd);
    close(ep);
    free(conns);
    free(events);
    return 0;
}
