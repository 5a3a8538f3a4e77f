/*
 * backend_libuv.h: runtime_bench.c's loop on libuv, the baseline. Included by runtime_bench.c
 * when built with -DRT_LIBUV.
 *
 *   loop       uv_run(UV_RUN_DEFAULT) on a pthread started here
 *   execute    what a libuv program writes for "run this on the loop's thread": a task node
 *              (malloc'd, as nioxide boxes each task) appended to a mutex-protected queue,
 *              then uv_async_send. uv_async_send coalesces, so the async callback takes the
 *              whole queue under the mutex (libuv's own uv__work_done idiom), runs the tasks in
 *              order and frees the nodes. Tasks queued while it runs wait for the next turn.
 *   timer op   uv_timer_start(1000 ms) + uv_timer_stop on one uv_timer_t, on the loop
 *   schedule   the same: libuv has no timer with a future of its own
 *   never-early uv_update_time + uv_timer_start(1000 ms) + uv_timer_stop: the deadline taken
 *              from the clock at the call, as nioxide's (libuv's own start uses the loop time
 *              cached at the start of the turn)
 *   remote     none: libuv's timers are for the loop's thread only
 *   turns      async callbacks (each is one loop turn that found tasks)
 */
#ifndef RT_BACKEND_LIBUV_H
#define RT_BACKEND_LIBUV_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#define RT_NAME "libuv"

typedef uv_loop_t rt_loop_t;

struct rt_node {
    struct rt_node *next;
    int (*task)(rt_loop_t *, void *);
    void *arg;
};

static struct {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timer;
    pthread_t thread;
    pthread_mutex_t mutex;
    struct rt_node *head, **tail; /* the queue, under mutex */
    _Atomic uint64_t drains;
    int closing;                  /* loop thread only */
} rt_uv;

static void rt_check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "runtime_bench (libuv): %s: %s\n", what, uv_strerror(rc));
        exit(1);
    }
}

static const char *rt_version(void)
{
    return uv_version_string();
}

static void rt_async_cb(uv_async_t *async)
{
    struct rt_node *node, *next;
    (void)async;
    pthread_mutex_lock(&rt_uv.mutex);
    node = rt_uv.head;
    rt_uv.head = NULL;
    rt_uv.tail = &rt_uv.head;
    pthread_mutex_unlock(&rt_uv.mutex);
    atomic_fetch_add_explicit(&rt_uv.drains, 1, memory_order_relaxed);
    for (; node != NULL; node = next) {
        next = node->next;
        if (node->task(&rt_uv.loop, node->arg) < 0)
            fprintf(stderr, "runtime_bench (libuv): a task failed\n");
        free(node);
    }
    if (rt_uv.closing) {
        uv_close((uv_handle_t *)&rt_uv.async, NULL);
        uv_close((uv_handle_t *)&rt_uv.timer, NULL);
    }
}

static void *rt_thread_main(void *arg)
{
    (void)arg;
    rt_check(uv_run(&rt_uv.loop, UV_RUN_DEFAULT), "uv_run");
    return NULL;
}

static void rt_start(void)
{
    rt_check(uv_loop_init(&rt_uv.loop), "uv_loop_init");
    rt_check(uv_async_init(&rt_uv.loop, &rt_uv.async, rt_async_cb), "uv_async_init");
    rt_check(uv_timer_init(&rt_uv.loop, &rt_uv.timer), "uv_timer_init");
    pthread_mutex_init(&rt_uv.mutex, NULL);
    rt_uv.head = NULL;
    rt_uv.tail = &rt_uv.head;
    rt_uv.closing = 0;
    if (pthread_create(&rt_uv.thread, NULL, rt_thread_main, NULL) != 0) {
        fprintf(stderr, "runtime_bench (libuv): pthread_create failed\n");
        exit(1);
    }
}

/* Queues task(loop, arg) to the loop's thread; any thread. */
static void rt_execute(int (*task)(rt_loop_t *, void *), void *arg)
{
    struct rt_node *node = malloc(sizeof *node);
    if (node == NULL) {
        fprintf(stderr, "runtime_bench (libuv): out of memory\n");
        exit(1);
    }
    node->next = NULL;
    node->task = task;
    node->arg = arg;
    pthread_mutex_lock(&rt_uv.mutex);
    *rt_uv.tail = node;
    rt_uv.tail = &node->next;
    pthread_mutex_unlock(&rt_uv.mutex);
    rt_check(uv_async_send(&rt_uv.async), "uv_async_send");
}

static uint64_t rt_turns(void)
{
    return atomic_load_explicit(&rt_uv.drains, memory_order_relaxed);
}

static void rt_never_runs(uv_timer_t *timer)
{
    (void)timer;
    fprintf(stderr, "runtime_bench (libuv): a stopped timer ran\n");
    abort();
}

/* On the loop's thread: starts a timer 1 s out and stops it. */
static void rt_timer_op(rt_loop_t *loop)
{
    (void)loop;
    rt_check(uv_timer_start(&rt_uv.timer, rt_never_runs, 1000, 0), "uv_timer_start");
    rt_check(uv_timer_stop(&rt_uv.timer), "uv_timer_stop");
}

/* On the loop's thread: one cheap call on the loop's timer (uv_is_active). */
static void rt_check_op(rt_loop_t *loop)
{
    (void)loop;
    if (uv_is_active((uv_handle_t *)&rt_uv.timer) != 0)
        rt_check(-1, "uv_is_active");
}

/* On the loop's thread: the timer op with the loop's clock read first, so the timer does not
 * fire early when the callback that starts it ran late in the turn. */
static void rt_timer_ne_op(rt_loop_t *loop)
{
    uv_update_time(loop);
    rt_timer_op(loop);
}

/* libuv's timers may not be used from other threads. */
#define RT_REMOTE_TIMERS 0
static void rt_remote_timer_op(void) {}

/* libuv's nearest to a scheduled task with a future: the timer op again. */
static void rt_schedule_op(rt_loop_t *loop)
{
    rt_timer_op(loop);
}

static int rt_close_task(rt_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    rt_uv.closing = 1; /* the async callback closes the handles after this drain */
    return 0;
}

/* Lets the loop run what is queued, closes its handles (uv_run returns), joins its thread. */
static void rt_finish(void)
{
    rt_execute(rt_close_task, NULL);
    pthread_join(rt_uv.thread, NULL);
    rt_check(uv_loop_close(&rt_uv.loop), "uv_loop_close");
    pthread_mutex_destroy(&rt_uv.mutex);
}

#endif
