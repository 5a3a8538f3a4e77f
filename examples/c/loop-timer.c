/*
 * loop-timer: timers on an event loop driven by the caller (nx_loop_new + nx_loop_run).
 *
 *   loop-timer
 *
 * Schedules, on one loop:
 *   - a one-shot timer at 50 ms;
 *   - a fixed-rate ticker every 20 ms (from 20 ms on);
 *   - a timer at 30 ms that is cancelled at once, so it never fires;
 *   - a one-shot "stopper" at 110 ms that cancels the ticker.
 * then runs the loop with NX_RUN_DEFAULT, which returns once nothing referenced is left: the
 * one-shots have fired and the ticker and the doomed timer are cancelled. Every callback runs
 * on this thread, inside nx_loop_run. Prints what fires and when (the loop's clock,
 * nx_loop_now), checks that nothing fired early or twice and that the ticker ticked exactly 5
 * times (at 20, 40, 60, 80 and 100 ms: timers fire in deadline order, so the stopper at 110 ms
 * comes after the tick at 100 ms even on a late loop), and exits 0 if so, 1 if not.
 */
#include <stdio.h>
#include <stdlib.h>

#include <nioxide.h>

struct demo {
    nx_loop_t *loop;
    nx_promise_t *ticker;  /* the fixed-rate timer's future, for the stopper to cancel */
    int64_t start_ms;      /* the loop's clock when the timers were scheduled */
    int ticks;
    int one_shot_runs;
    int stopper_runs;
    int doomed_runs;
    int early;             /* callbacks that ran before their deadline */
};

static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "loop-timer: %s: %s (%s)\n", what, nx_strerror(rc), nx_err_name(rc));
        exit(1);
    }
    return rc;
}

/* Milliseconds on the loop's clock since the timers were scheduled. */
static int64_t elapsed(struct demo *d)
{
    int64_t now = 0;
    check(nx_loop_now(d->loop, &now), "nx_loop_now");
    return now - d->start_ms;
}

/* Prints what fired, and notes whether it fired before `due_ms`. */
static void fired(struct demo *d, int64_t due_ms, const char *what)
{
    int64_t at = elapsed(d);
    printf("%4lld ms: %s (due at %lld ms)\n", (long long)at, what, (long long)due_ms);
    if (at < due_ms)
        d->early++;
}

static int on_tick(nx_loop_t *loop, void *attachment)
{
    struct demo *d = attachment;
    char what[32];
    (void)loop;
    d->ticks++;
    snprintf(what, sizeof what, "tick %d", d->ticks);
    fired(d, 20 * (int64_t)d->ticks, what);
    return 0; /* go on; a negative return would fail the ticker's future and stop it */
}

static int on_one_shot(nx_loop_t *loop, void *attachment)
{
    struct demo *d = attachment;
    (void)loop;
    d->one_shot_runs++;
    fired(d, 50, "one-shot timer");
    return 0;
}

static int on_stopper(nx_loop_t *loop, void *attachment)
{
    struct demo *d = attachment;
    (void)loop;
    d->stopper_runs++;
    fired(d, 110, "stopper: cancelling the ticker");
    /* 1: this cancel won, the ticker never runs again (its future fails with NX_ECANCELLED). */
    if (check(nx_promise_cancel(d->ticker), "nx_promise_cancel") != 1)
        fprintf(stderr, "loop-timer: the ticker was not cancelled\n");
    return 0;
}

static int on_doomed(nx_loop_t *loop, void *attachment)
{
    struct demo *d = attachment;
    (void)loop;
    d->doomed_runs++;
    fired(d, 30, "the cancelled timer (it should never fire)");
    return 0;
}

int main(void)
{
    struct demo d = {0};
    nx_promise_t *one_shot = NULL, *stopper = NULL, *doomed = NULL;
    int rc, ok;

    check(nx_loop_new(&d.loop), "nx_loop_new");
    check(nx_loop_now(d.loop, &d.start_ms), "nx_loop_now");

    /* The attachment is ours (a stack struct), so no attachment_free. */
    check(nx_loop_schedule(d.loop, 50, on_one_shot, &d, NULL, &one_shot), "nx_loop_schedule");
    check(nx_loop_schedule_at_fixed_rate(d.loop, 20, 20, on_tick, &d, NULL, &d.ticker),
          "nx_loop_schedule_at_fixed_rate");
    check(nx_loop_schedule(d.loop, 110, on_stopper, &d, NULL, &stopper), "nx_loop_schedule");
    check(nx_loop_schedule(d.loop, 30, on_doomed, &d, NULL, &doomed), "nx_loop_schedule");
    printf("   0 ms: scheduled a one-shot at 50 ms, a ticker every 20 ms, a stopper at 110 ms "
           "and a timer at 30 ms\n");
    rc = check(nx_promise_cancel(doomed), "nx_promise_cancel");
    printf("   0 ms: cancelled the timer at 30 ms before it fired (nx_promise_cancel: %d)\n", rc);

    /* Runs until nothing referenced is left; every callback above runs in here. */
    rc = check(nx_loop_run(d.loop, NX_RUN_DEFAULT), "nx_loop_run");
    printf("%4lld ms: nx_loop_run returned %d: nothing referenced is left\n",
           (long long)elapsed(&d), rc);

    ok = d.ticks == 5 && d.one_shot_runs == 1 && d.stopper_runs == 1 && d.doomed_runs == 0 &&
         d.early == 0 && rc == 0 && nx_promise_is_success(one_shot) == 1 &&
         nx_promise_is_success(stopper) == 1 && nx_promise_is_cancelled(d.ticker) == 1 &&
         nx_promise_is_cancelled(doomed) == 1;
    printf("ticks: %d, one-shot runs: %d, cancelled timer runs: %d, early: %d\n", d.ticks,
           d.one_shot_runs, d.doomed_runs, d.early);

    nx_promise_free(one_shot);
    nx_promise_free(stopper);
    nx_promise_free(doomed);
    nx_promise_free(d.ticker);
    check(nx_loop_free(d.loop), "nx_loop_free");
    puts(ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
