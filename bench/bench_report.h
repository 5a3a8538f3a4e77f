/*
 * bench_report.h: what every C benchmark server shares, and nothing else: it counts the bytes
 * the server echoed and reports them with the server's CPU time, on signals:
 *
 *   SIGUSR1          prints "rusage user_us=U sys_us=S bytes=B" and carries on (a mark);
 *   SIGTERM, SIGINT  prints the same line and exits with status 0.
 *
 * bench/run.sh takes the difference of two marks as the server's CPU time over a window in
 * which the load generator counted the requests. The report is written from the signal handler
 * with async-signal-safe calls only (getrusage and write are plain system calls), so it works
 * whatever the server is doing, including waiting inside a library's select that retries EINTR.
 * The server's own loop is untouched: its hot path only adds the byte count.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Bytes echoed so far. Single-threaded servers: a plain counter read by the handler. */
static volatile uint64_t bench_bytes;

static size_t bench_fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t bench_put(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

static void bench_on_signal(int sig)
{
    int saved_errno = errno;
    struct rusage ru;
    char line[128];
    size_t n = 0;

    getrusage(RUSAGE_SELF, &ru);
    n += bench_put(line + n, "rusage user_us=");
    n += bench_fmt_u64(line + n, (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec);
    n += bench_put(line + n, " sys_us=");
    n += bench_fmt_u64(line + n, (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec);
    n += bench_put(line + n, " bytes=");
    n += bench_fmt_u64(line + n, bench_bytes);
    line[n++] = '\n';
    if (write(STDOUT_FILENO, line, n) < 0) {
        /* nothing to do: the report is best effort */
    }
    if (sig != SIGUSR1)
        _exit(0);
    errno = saved_errno;
}

/* Installs the handlers and ignores SIGPIPE (a load generator that goes away must not kill the
 * server). Returns 0, or -1 with errno set. */
static int bench_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bench_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

#endif /* BENCH_REPORT_H */
