/*
 * runtime_bench: the runtime benchmark's measurements, one source for both sides. Built twice:
 * -DRT_NIOXIDE (backend_nioxide.h: nx_loop_* from libnioxide) and -DRT_LIBUV (backend_libuv.h:
 * libuv with a mutex-protected queue and uv_async_send). Every measurement below is written
 * once, against the backend's functions (rt_start, rt_execute, rt_timer_op, rt_timer_ne_op,
 * rt_remote_timer_op, rt_schedule_op, rt_turns, rt_finish), so both sides run the same code
 * around their loop.
 *
 *   runtime_bench [-x WHICH] [-n TASKS] [-r REPS] [-P PRODUCERS] [-t TIMER_OPS] [-b BATCH]
 *                 [-s SAMPLES] [-w PAUSE_US] [-L LOOP_CPU] [-C CLIENT_CPU]
 *
 * WHICH: a comma-separated subset of execute,timer,schedule,wakeup,floor,neverearly,remote,check
 * (default: all but check, in the order execute, timer, schedule, check, neverearly, remote,
 * wakeup, floor; check, one cheap call on the loop's own timer for run.sh's instruction count,
 * runs only when named).
 *
 * 1. execute: PRODUCERS threads (pinned to CLIENT_CPU) queue TASKS tiny tasks in all to one
 *    loop thread (pinned to LOOP_CPU) as fast as they can; the time runs from the producers'
 *    start (after a barrier) to the moment the last task runs on the loop thread. REPS times;
 *    prints the median tasks/s. Each task counts; the last one stamps the time. Also prints
 *    the producers' own time per task (start to the end of their last execute call), the
 *    write(2) system calls per task (/proc/self/io: the eventfd wake-ups) and the tasks run
 *    per loop turn, which tell whether the producer or the loop was the limit, and why.
 * 2. timer: on the loop thread, TIMER_OPS times "start a timer 1 s out, stop it" on one timer
 *    made beforehand (rt_timer_op), in tasks of BATCH operations that each queue the next (so
 *    the loop turns between batches and does whatever deferred work it has); the time runs
 *    from the first batch to the end of the last. REPS times; prints the median operations/s.
 *    schedule: the same with rt_schedule_op, a timer with its own future per operation where
 *    the backend has one (nioxide's nx_loop_schedule + cancel; libuv has no such thing and
 *    runs its rt_timer_op again). neverearly: the same with rt_timer_ne_op, a start whose
 *    deadline comes from the clock at the call on both sides (libuv: uv_update_time first).
 *    remote: from the client thread while the loop runs, TIMER_OPS rt_remote_timer_op (where
 *    the backend's timers may be used from other threads: nioxide queues them to the loop),
 *    timed until the loop has run them all; REPS times, the median operations/s.
 * 3. wake-up: SAMPLES times, from the client thread (pinned to CLIENT_CPU): take
 *    CLOCK_MONOTONIC, queue a task to the idle loop, which takes CLOCK_MONOTONIC when it runs;
 *    the client spins until it has run, then sleeps PAUSE_US so the loop is idle again.
 *    Prints p50 and p99 of the differences.
 * 4. floor: on the client's CPU, the time of one uncontended atomic read-modify-write (a
 *    locked add) and of one CLOCK_MONOTONIC read: the parts no timer start + stop can avoid
 *    under nioxide's rules (report.py says which), measured on the same machine in the same
 *    run as the figures they bound.
 *
 * Output: "key value" lines (bench/runtime/report.py reads them), with the total number of
 * tasks and timer operations run (warm-ups included), so that run.sh can divide the difference
 * of two callgrind instruction counts by the difference of the work done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(RT_NIOXIDE)
#include "backend_nioxide.h"
#elif defined(RT_LIBUV)
#include "backend_libuv.h"
#else
#error "build with -DRT_NIOXIDE or -DRT_LIBUV"
#endif

static struct {
    uint64_t tasks, timer_ops, batch, samples, pause_us;
    int reps, producers, loop_cpu, client_cpu;
    const char *which;
} opt = {1000000, 1000000, 1000, 5000, 1000, 5, 1, 0, 1,
         "execute,timer,schedule,wakeup,floor,neverearly,remote"};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "runtime_bench (%s): %s\n", RT_NAME, what);
    exit(1);
}

/* Pins the calling thread to `cpu` (negative: leaves it alone). */
static void pin_self(int cpu)
{
    cpu_set_t set;
    int rc;
    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) {
        fprintf(stderr, "runtime_bench (%s): pinning to CPU %d: %s\n", RT_NAME, cpu, strerror(rc));
        exit(1);
    }
}

/* Waits (sleeping) until *flag is set, at most 60 s. */
static void wait_flag(_Atomic int *flag)
{
    struct timespec nap = {0, 100000};
    uint64_t give_up = now_ns() + 60ull * 1000000000u;
    while (!atomic_load_explicit(flag, memory_order_acquire)) {
        if (now_ns() > give_up)
            die("the loop did not finish in 60 s");
        nanosleep(&nap, NULL);
    }
}

/* The process's write(2)-family system calls so far (/proc/self/io "syscw"): the wake-ups of
 * both sides are eventfd writes. -1 if unreadable. */
static long long write_syscalls(void)
{
    char line[128];
    long long n = -1;
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "syscw: %lld", &n) == 1)
            break;
    fclose(f);
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t percentile(uint64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static double median(double *v, int n)
{
    int i, j;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- the loop thread's pinning ---------------------------------------------------------------- */

static _Atomic int pinned;

static int pin_task(rt_loop_t *loop, void *arg)
{
    (void)loop;
    pin_self(*(int *)arg);
    atomic_store_explicit(&pinned, 1, memory_order_release);
    return 0;
}

/* --- 1. execute ------------------------------------------------------------------------------ */

static struct {
    uint64_t target, count; /* count: loop thread only */
    uint64_t end;
    _Atomic int done;
    pthread_barrier_t start;
    _Atomic uint64_t begin; /* the earliest producer start */
    _Atomic uint64_t submitted; /* the latest producer end */
} ex;

static int count_task(rt_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    if (++ex.count == ex.target) {
        ex.end = now_ns();
        atomic_store_explicit(&ex.done, 1, memory_order_release);
    }
    return 0;
}

static void *producer(void *arg)
{
    uint64_t n = (uint64_t)(uintptr_t)arg, i, t, seen;
    pin_self(opt.client_cpu);
    pthread_barrier_wait(&ex.start);
    t = now_ns();
    seen = atomic_load(&ex.begin);
    while ((seen == 0 || t < seen) && !atomic_compare_exchange_weak(&ex.begin, &seen, t)) {
    }
    for (i = 0; i < n; i++)
        rt_execute(count_task, NULL);
    t = now_ns();
    seen = atomic_load(&ex.submitted);
    while (t > seen && !atomic_compare_exchange_weak(&ex.submitted, &seen, t)) {
    }
    return NULL;
}

/* One run of `tasks` tasks from `producers` threads; returns tasks/s, and in *submit_ns the
 * producers' time per task (from their start to the last one's end), what queueing costs them. */
static double execute_once(uint64_t tasks, int producers, double *submit_ns)
{
    pthread_t threads[64];
    int i;
    ex.target = tasks;
    ex.count = 0;
    atomic_store(&ex.done, 0);
    atomic_store(&ex.begin, 0);
    atomic_store(&ex.submitted, 0);
    pthread_barrier_init(&ex.start, NULL, (unsigned)producers);
    for (i = 0; i < producers; i++) {
        uint64_t share = tasks / (uint64_t)producers + ((uint64_t)i < tasks % (uint64_t)producers);
        if (pthread_create(&threads[i], NULL, producer, (void *)(uintptr_t)share) != 0)
            die("pthread_create failed");
    }
    for (i = 0; i < producers; i++)
        pthread_join(threads[i], NULL);
    wait_flag(&ex.done);
    pthread_barrier_destroy(&ex.start);
    *submit_ns = (double)(atomic_load(&ex.submitted) - atomic_load(&ex.begin)) / (double)tasks;
    return (double)tasks * 1e9 / (double)(ex.end - atomic_load(&ex.begin));
}

static void bench_execute(void)
{
    double runs[64], submit[64];
    uint64_t turns, warm = opt.tasks / 10 + 1;
    long long writes;
    int r;
    if (opt.producers < 1 || opt.producers > 64)
        die("producers: 1 to 64");
    execute_once(warm, opt.producers, &submit[0]);
    turns = rt_turns();
    writes = write_syscalls();
    for (r = 0; r < opt.reps; r++)
        runs[r] = execute_once(opt.tasks, opt.producers, &submit[r]);
    turns = rt_turns() - turns;
    if (writes >= 0)
        writes = write_syscalls() - writes;
    printf("execute_p%d_tasks_per_s %.0f\n", opt.producers, median(runs, opt.reps));
    printf("execute_p%d_submit_ns_per_task %.1f\n", opt.producers, median(submit, opt.reps));
    if (writes >= 0)
        printf("execute_p%d_writes_per_task %.4f\n", opt.producers,
               (double)writes / (double)opt.tasks / opt.reps);
    printf("execute_p%d_tasks_per_turn %.1f\n", opt.producers,
           (double)opt.tasks * opt.reps / (double)(turns ? turns : 1));
    printf("execute_p%d_tasks_total %llu\n", opt.producers,
           (unsigned long long)(warm + opt.tasks * (uint64_t)opt.reps));
}

/* --- 2. timer start + stop, and schedule + cancel ------------------------------------------- */

static struct {
    uint64_t left, start, end;
    void (*op)(rt_loop_t *);
    _Atomic int done;
} tm;

static int timer_batch(rt_loop_t *loop, void *arg)
{
    uint64_t n = tm.left < opt.batch ? tm.left : opt.batch, i;
    (void)arg;
    if (tm.start == 0)
        tm.start = now_ns();
    for (i = 0; i < n; i++)
        tm.op(loop);
    tm.left -= n;
    if (tm.left > 0) {
        rt_execute(timer_batch, NULL);
    } else {
        tm.end = now_ns();
        atomic_store_explicit(&tm.done, 1, memory_order_release);
    }
    return 0;
}

static double timer_once(void (*op)(rt_loop_t *), uint64_t ops)
{
    tm.op = op;
    tm.left = ops;
    tm.start = tm.end = 0;
    atomic_store(&tm.done, 0);
    rt_execute(timer_batch, NULL);
    wait_flag(&tm.done);
    return (double)ops * 1e9 / (double)(tm.end - tm.start);
}

/* Measures `op`; prints NAME_ops_per_s and NAME_ops_total. */
static void bench_timer(const char *name, void (*op)(rt_loop_t *))
{
    double runs[64];
    uint64_t warm = opt.timer_ops / 10 + 1;
    int r;
    if (opt.batch < 1)
        die("batch: at least 1");
    timer_once(op, warm);
    for (r = 0; r < opt.reps; r++)
        runs[r] = timer_once(op, opt.timer_ops);
    printf("%s_ops_per_s %.0f\n", name, median(runs, opt.reps));
    printf("%s_ops_total %llu\n", name,
           (unsigned long long)(warm + opt.timer_ops * (uint64_t)opt.reps));
}

/* From the client's thread while the loop runs: `opt.timer_ops` timer ops (each queued to the
 * loop where the backend allows it), until the loop has run them all; prints
 * remote_ops_per_s. */
static _Atomic int remote_drained;

static int remote_drain_task(rt_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    atomic_store_explicit(&remote_drained, 1, memory_order_release);
    return 0;
}

static double remote_once(uint64_t ops)
{
    uint64_t i, t0 = now_ns();
    for (i = 0; i < ops; i++)
        rt_remote_timer_op();
    atomic_store(&remote_drained, 0);
    rt_execute(remote_drain_task, NULL);
    wait_flag(&remote_drained);
    return (double)ops * 1e9 / (double)(now_ns() - t0);
}

static void bench_remote(void)
{
    double runs[64];
    int r;
    if (!RT_REMOTE_TIMERS)
        return;
    pin_self(opt.client_cpu);
    remote_once(opt.timer_ops / 10 + 1);
    for (r = 0; r < opt.reps; r++)
        runs[r] = remote_once(opt.timer_ops);
    printf("remote_ops_per_s %.0f\n", median(runs, opt.reps));
}

/* --- 3. wake-up latency ---------------------------------------------------------------------- */

static struct {
    uint64_t ran;
    _Atomic int done;
} wk;

static int stamp_task(rt_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    wk.ran = now_ns();
    atomic_store_explicit(&wk.done, 1, memory_order_release);
    return 0;
}

static void bench_wakeup(void)
{
    uint64_t *lat = malloc(opt.samples * sizeof *lat), i, warm = opt.samples / 10 + 1;
    struct timespec pause = {(time_t)(opt.pause_us / 1000000),
                             (long)(opt.pause_us % 1000000) * 1000};
    if (lat == NULL || opt.samples < 1)
        die("samples: at least 1");
    pin_self(opt.client_cpu);
    for (i = 0; i < warm + opt.samples; i++) {
        uint64_t sent, give_up;
        nanosleep(&pause, NULL);
        atomic_store_explicit(&wk.done, 0, memory_order_relaxed);
        sent = now_ns();
        give_up = sent + 10ull * 1000000000u;
        rt_execute(stamp_task, NULL);
        while (!atomic_load_explicit(&wk.done, memory_order_acquire))
            if (now_ns() > give_up)
                die("a wake-up took more than 10 s");
        if (i >= warm)
            lat[i - warm] = wk.ran - sent;
    }
    qsort(lat, opt.samples, sizeof *lat, cmp_u64);
    printf("wakeup_p50_ns %llu\n", (unsigned long long)percentile(lat, opt.samples, 0.50));
    printf("wakeup_p99_ns %llu\n", (unsigned long long)percentile(lat, opt.samples, 0.99));
    free(lat);
}

/* --- 4. the floor: what one atomic read-modify-write and one clock read cost here --------- */

static _Atomic uint64_t floor_word;

/* The median over `reps` of the time per call of CLOCK_MONOTONIC reads and of uncontended
 * locked additions (the cheapest atomic read-modify-write), on the client's CPU. They bound
 * from below what a timer start + stop can cost under nioxide's rules (see report.py). */
static void bench_floor(void)
{
    enum { N = 4000000 };
    double rmw[64], clock[64];
    struct timespec ts;
    int r;
    uint64_t i, t0;
    pin_self(opt.client_cpu);
    for (r = 0; r < opt.reps; r++) {
        t0 = now_ns();
        for (i = 0; i < N; i++)
            atomic_fetch_add_explicit(&floor_word, 1, memory_order_relaxed);
        rmw[r] = (double)(now_ns() - t0) / N;
        t0 = now_ns();
        for (i = 0; i < N; i++)
            clock_gettime(CLOCK_MONOTONIC, &ts);
        clock[r] = (double)(now_ns() - t0) / N;
    }
    printf("floor_atomic_rmw_ns %.2f\n", median(rmw, opt.reps));
    printf("floor_clock_read_ns %.2f\n", median(clock, opt.reps));
}

/* --------------------------------------------------------------------------------------------- */

static uint64_t num(const char *s)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        die("options take non-negative integers");
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "x:n:r:P:t:b:s:w:L:C:")) != -1) {
        switch (c) {
        case 'x': opt.which = optarg; break;
        case 'n': opt.tasks = num(optarg); break;
        case 'r': opt.reps = (int)num(optarg); break;
        case 'P': opt.producers = (int)num(optarg); break;
        case 't': opt.timer_ops = num(optarg); break;
        case 'b': opt.batch = num(optarg); break;
        case 's': opt.samples = num(optarg); break;
        case 'w': opt.pause_us = num(optarg); break;
        case 'L': opt.loop_cpu = (int)num(optarg); break;
        case 'C': opt.client_cpu = (int)num(optarg); break;
        default:
            fprintf(stderr,
                    "usage: %s [-x execute,timer,schedule,wakeup,floor,neverearly,remote]\n"
                    "       [-n tasks] [-r reps]"
                    "       [-P producers]"
                    " [-t timer_ops] [-b batch] [-s samples] [-w pause_us]\n"
                    "       [-L loop_cpu] [-C client_cpu]\n",
                    argv[0]);
            return 2;
        }
    }
    if (opt.reps < 1 || opt.reps > 64)
        die("reps: 1 to 64");
    printf("backend %s %s\n", RT_NAME, rt_version());
    rt_start();
    rt_execute(pin_task, &opt.loop_cpu);
    wait_flag(&pinned);
    pin_self(opt.client_cpu);
    if (strstr(opt.which, "execute") != NULL)
        bench_execute();
    if (strstr(opt.which, "timer") != NULL)
        bench_timer("timer", rt_timer_op);
    if (strstr(opt.which, "schedule") != NULL)
        bench_timer("schedule", rt_schedule_op);
    if (strstr(opt.which, "check") != NULL)
        bench_timer("check", rt_check_op);
    if (strstr(opt.which, "neverearly") != NULL)
        bench_timer("timer_ne", rt_timer_ne_op);
    if (strstr(opt.which, "remote") != NULL)
        bench_remote();
    if (strstr(opt.which, "wakeup") != NULL)
        bench_wakeup();
    if (strstr(opt.which, "floor") != NULL)
        bench_floor();
    rt_finish();
    return 0;
}
