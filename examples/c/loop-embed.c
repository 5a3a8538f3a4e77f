/*
 * loop-embed: a caller-driven nioxide loop embedded in a host program's own poll(2) loop, the
 * way libuv's test-embed.c embeds a uv loop.
 *
 *   loop-embed
 *
 * The host (the main thread) never calls a blocking nioxide function. Each round of its loop:
 *   1. nx_loop_backend_timeout says how long it may wait: 0 while nioxide has work pending
 *      (also tasks queued from the loop's own thread, which do not wake the descriptor), the
 *      time to the next nioxide timer, or -1 for "only the descriptor can bring work";
 *   2. poll(2) on nx_loop_backend_fd (POLLIN) with that timeout (bounded by the host's own
 *      100 ms heartbeat);
 *   3. one NX_RUN_NOWAIT turn: nioxide runs whatever is due, on this thread, and returns.
 * Meanwhile a producer thread executes 5 tasks into the loop (nx_loop_execute from another
 * thread wakes the descriptor) 20 ms apart, and a nioxide timer fires at 30 ms. The last task
 * queues a follow-up from the loop's own thread, which queues a second one: such tasks do not
 * wake the descriptor (a task queued during a turn runs in the turn's next task phase or the
 * next turn), so one of them is run only because nx_loop_backend_timeout said 0 while the
 * descriptor was not readable. The host stops once the second follow-up ran. Exits 0 if every
 * task ran once, in order, on the host thread, the timer fired and the 0 timeout was seen; 1 if
 * not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nioxide.h>

#define TASKS 5

struct host {
    nx_loop_t *loop;
    pthread_t host_thread;
    int next_task;          /* the number the next task must carry (order check) */
    int wrong;              /* tasks out of order, twice, or off the host thread */
    int timer_fired;
    int follow_ups;         /* follow-up tasks run */
    int polls, readable, turns;
    int zero_waits;         /* polls with timeout 0 that found the descriptor not readable */
};

struct job {
    struct host *host;
    int number;
};

static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "loop-embed: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
        exit(1);
    }
    return rc;
}

static int64_t loop_ms(struct host *h)
{
    int64_t now = 0;
    check(nx_loop_now(h->loop, &now), "nx_loop_now");
    return now;
}

static void on_host_thread(struct host *h, const char *what)
{
    if (!pthread_equal(pthread_self(), h->host_thread) || nx_loop_in_event_loop(h->loop) != 1) {
        fprintf(stderr, "loop-embed: %s ran off the host thread\n", what);
        h->wrong++;
    }
}

static int follow_up(nx_loop_t *loop, void *attachment)
{
    struct host *h = attachment;
    (void)loop;
    on_host_thread(h, "a follow-up");
    h->follow_ups++;
    printf("%4lld ms: follow-up %d, queued from the loop's own thread, ran\n",
           (long long)loop_ms(h), h->follow_ups);
    if (h->follow_ups == 1)
        check(nx_loop_execute(loop, follow_up, h, NULL), "nx_loop_execute");
    return 0;
}

/* A task from the producer thread; the loop frees its job (attachment_free = free). */
static int run_job(nx_loop_t *loop, void *attachment)
{
    struct job *job = attachment;
    struct host *h = job->host;
    on_host_thread(h, "a task");
    printf("%4lld ms: task %d from the producer ran on the host thread\n",
           (long long)loop_ms(h), job->number);
    if (job->number != h->next_task++)
        h->wrong++;
    if (job->number == TASKS)
        /* From the loop's own thread: no wake-up; nx_loop_backend_timeout says 0 instead. */
        check(nx_loop_execute(loop, follow_up, h, NULL), "nx_loop_execute");
    return 0;
}

static int on_timer(nx_loop_t *loop, void *attachment)
{
    struct host *h = attachment;
    (void)loop;
    on_host_thread(h, "the timer");
    h->timer_fired++;
    printf("%4lld ms: nioxide timer (due at 30 ms) fired\n", (long long)loop_ms(h));
    return 0;
}

static void *producer(void *arg)
{
    struct host *h = arg;
    struct timespec gap = {0, 20 * 1000 * 1000};
    int i;
    for (i = 1; i <= TASKS; i++) {
        struct job *job = malloc(sizeof *job);
        nanosleep(&gap, NULL);
        if (job == NULL)
            abort();
        job->host = h;
        job->number = i;
        /* On success the loop owns job and frees it after the task; on error it is still ours. */
        if (nx_loop_execute(h->loop, run_job, job, free) < 0) {
            free(job);
            h->wrong++;
        }
    }
    return NULL;
}

int main(void)
{
    struct host h = {0};
    pthread_t thread;
    nx_promise_t *timer = NULL;
    int fd, ok;
    int64_t give_up;

    h.host_thread = pthread_self();
    h.next_task = 1;
    check(nx_loop_new(&h.loop), "nx_loop_new"); /* this thread owns it */
    check(nx_loop_backend_fd(h.loop, &fd), "nx_loop_backend_fd");
    check(nx_loop_schedule(h.loop, 30, on_timer, &h, NULL, &timer), "nx_loop_schedule");
    if (pthread_create(&thread, NULL, producer, &h) != 0) {
        fprintf(stderr, "loop-embed: pthread_create failed\n");
        return 1;
    }
    printf("host: polling nioxide's backend descriptor %d\n", fd);

    give_up = loop_ms(&h) + 10000;
    while (h.follow_ups < 2 && loop_ms(&h) < give_up) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t timeout = 0;
        int n;
        check(nx_loop_backend_timeout(h.loop, &timeout), "nx_loop_backend_timeout");
        if (timeout < 0 || timeout > 100)
            timeout = 100; /* the host's own heartbeat */
        n = poll(&pfd, 1, (int)timeout);
        if (n < 0 && errno != EINTR) {
            perror("loop-embed: poll");
            return 1;
        }
        h.polls++;
        h.readable += n > 0;
        if (timeout == 0 && n == 0) {
            h.zero_waits++;
            printf("%4lld ms: host: backend timeout 0, descriptor not readable: a task is "
                   "pending, run a turn anyway\n", (long long)loop_ms(&h));
        }
        check(nx_loop_run(h.loop, NX_RUN_NOWAIT), "nx_loop_run");
        h.turns++;
    }
    pthread_join(thread, NULL);

    ok = h.follow_ups == 2 && h.zero_waits >= 1 && h.next_task == TASKS + 1 && h.wrong == 0 &&
         h.timer_fired == 1 && nx_promise_is_success(timer) == 1;
    printf("host: %d polls (%d readable), %d NOWAIT turns\n", h.polls, h.readable, h.turns);
    nx_promise_free(timer);
    check(nx_loop_free(h.loop), "nx_loop_free");
    puts(ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
