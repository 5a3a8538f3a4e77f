/*
 * backend_nioxide.h: runtime_bench.c's loop on nioxide's public C API (include/nioxide.h, the
 * shared library users link). Included by runtime_bench.c when built with -DRT_NIOXIDE.
 *
 *   loop       nx_loop_start: a loop on a library thread (nioxide-loop-N)
 *   execute    nx_loop_execute(loop, task, arg, NULL), from any thread
 *   timer op   nx_timer_start(1000 ms) + nx_timer_stop on one nx_timer_t made at start, on the
 *              loop (the shape of libuv's uv_timer_start + uv_timer_stop)
 *   schedule   nx_loop_schedule(1000 ms) + nx_promise_cancel + nx_promise_free, on the loop: a
 *              scheduled task with its own future per operation
 *   never-early the timer op (nx_timer_start takes its deadline from the clock at the call)
 *   remote     the timer op from another thread while the loop runs (queued to the loop)
 *   turns      NX_LOOP_COUNTER_TURNS
 */
#ifndef RT_BACKEND_NIOXIDE_H
#define RT_BACKEND_NIOXIDE_H

#include <stdio.h>
#include <stdlib.h>

#include <nioxide.h>

#define RT_NAME "nioxide"

typedef nx_loop_t rt_loop_t;

static nx_loop_t *rt_the_loop;
static nx_timer_t *rt_the_timer;

static void rt_check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "runtime_bench (nioxide): %s: %s (%s)\n", what, nx_strerror(rc),
                nx_err_name(rc));
        exit(1);
    }
}

static const char *rt_version(void)
{
    return nx_version_string();
}

static void rt_never_fires(nx_timer_t *timer, void *attachment)
{
    (void)timer;
    (void)attachment;
    fprintf(stderr, "runtime_bench (nioxide): a stopped timer fired\n");
    abort();
}

static void rt_start(void)
{
    rt_check(nx_loop_start(&rt_the_loop), "nx_loop_start");
    rt_check(nx_timer_new(rt_the_loop, rt_never_fires, NULL, NULL, &rt_the_timer), "nx_timer_new");
}

/* Queues task(loop, arg) to the loop's thread; any thread. */
static void rt_execute(int (*task)(rt_loop_t *, void *), void *arg)
{
    rt_check(nx_loop_execute(rt_the_loop, task, arg, NULL), "nx_loop_execute");
}

/* The loop's turns so far (from any thread). */
static uint64_t rt_turns(void)
{
    uint64_t turns = 0;
    rt_check(nx_loop_counter(rt_the_loop, NX_LOOP_COUNTER_TURNS, &turns), "nx_loop_counter");
    return turns;
}

static int rt_never_runs(nx_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    fprintf(stderr, "runtime_bench (nioxide): a cancelled timer ran\n");
    abort();
}

/* On the loop's thread: starts the timer 1 s out and stops it. */
static void rt_timer_op(rt_loop_t *loop)
{
    (void)loop;
    rt_check(nx_timer_start(rt_the_timer, 1000, 0), "nx_timer_start");
    rt_check(nx_timer_stop(rt_the_timer), "nx_timer_stop");
}

/* On the loop's thread: one cheap call on a loop-owned object, the handle check's cost (the
 * timer is stopped: 0 is the answer). */
static void rt_check_op(rt_loop_t *loop)
{
    (void)loop;
    if (nx_timer_is_active(rt_the_timer) != 0)
        rt_check(-1, "nx_timer_is_active");
}

/* On the loop's thread: the timer op, which never fires early already. */
static void rt_timer_ne_op(rt_loop_t *loop)
{
    rt_timer_op(loop);
}

/* From a thread that is not the loop's: the timer op, queued to the loop. */
#define RT_REMOTE_TIMERS 1
static void rt_remote_timer_op(void)
{
    rt_check(nx_timer_start(rt_the_timer, 1000, 0), "nx_timer_start");
    rt_check(nx_timer_stop(rt_the_timer), "nx_timer_stop");
}

/* On the loop's thread: schedules a task 1 s out (a future per timer) and cancels it. */
static void rt_schedule_op(rt_loop_t *loop)
{
    nx_promise_t *timer = NULL;
    rt_check(nx_loop_schedule(loop, 1000, rt_never_runs, NULL, NULL, &timer), "nx_loop_schedule");
    if (nx_promise_cancel(timer) != 1) {
        fprintf(stderr, "runtime_bench (nioxide): nx_promise_cancel did not cancel\n");
        exit(1);
    }
    rt_check(nx_promise_free(timer), "nx_promise_free");
}

/* Shuts the loop down (draining what is queued), joins its thread and frees it. */
static void rt_finish(void)
{
    rt_check(nx_timer_free(rt_the_timer), "nx_timer_free");
    rt_check(nx_loop_shutdown_gracefully(rt_the_loop, 0, -1), "nx_loop_shutdown_gracefully");
    rt_check(nx_loop_await_termination(rt_the_loop, -1), "nx_loop_await_termination");
    rt_check(nx_loop_free(rt_the_loop), "nx_loop_free");
    rt_the_loop = NULL;
}

#endif
