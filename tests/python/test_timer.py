"""nioxide.Timer: reusable timers (libuv's uv_timer_t) on an EventLoop — order and never early,
restart, stop, repeat, again, callbacks that stop or restart their own timer, ref/unref,
close and the context manager, exceptions, contextvars, other threads, shutdown, garbage
collection and fork."""

from __future__ import annotations

import contextvars
import gc
import math
import os
import threading
import time
import weakref
from typing import Any

import pytest
from support import WAIT, Handler

import nioxide
from nioxide import RUN_NOWAIT, RUN_ONCE


def test_timers_fire_with_scheduled_tasks_in_deadline_order_never_early(loop: nioxide.EventLoop) -> None:
    fired: list[tuple[str, float]] = []
    start = time.monotonic()

    def record(timer: nioxide.Timer | None, name: str) -> None:
        fired.append((name, time.monotonic() - start))

    timers = []
    for name, delay in [("t0.15", 0.15), ("t0.05", 0.05), ("t0", 0.0), ("t0.1", 0.1)]:
        timer = loop.timer(record, name)
        timer.start(delay)
        timers.append(timer)
    loop.schedule(0.075, record, None, "s0.075")
    loop.schedule(0.125, record, None, "s0.125")
    assert fired == [], "no callback inside start"
    assert loop.run() is False
    assert [name for name, _ in fired] == ["t0", "t0.05", "s0.075", "t0.1", "s0.125", "t0.15"]
    for name, at in fired:
        assert at >= float(name[1:]), f"{name} fired early"
    assert not any(t.is_active() for t in timers)
    assert loop.counters()["timers_fired"] == 6


def test_the_callback_gets_the_timer_and_its_arguments(loop: nioxide.EventLoop) -> None:
    got: list[tuple[Any, ...]] = []
    timer = loop.timer(lambda *a: got.append(a), 1, "two")
    timer.start(0)
    loop.run()
    assert got == [(timer, 1, "two")]
    assert got[0][0] is timer


def test_restart_stop_and_due_in(loop: nioxide.EventLoop) -> None:
    fired: list[float] = []
    timer = loop.timer(lambda t: fired.append(time.monotonic()))
    assert not timer.is_active() and timer.due_in is None
    timer.start(60)
    assert timer.is_active()
    due = timer.due_in
    assert due is not None and 59 < due <= 60
    timer.stop()
    timer.stop()  # stopping a stopped timer does nothing
    assert not timer.is_active() and timer.due_in is None
    start = time.monotonic()
    assert loop.run() is False, "a stopped timer keeps nothing alive"
    assert time.monotonic() - start < WAIT and fired == []

    # A restart moves the deadline, earlier or later.
    start = time.monotonic()
    timer.start(60)
    timer.start(0.03)
    loop.run()
    assert len(fired) == 1 and 0.03 <= fired[0] - start < WAIT
    start = time.monotonic()
    timer.start(0.01)
    timer.start(0.05)
    loop.run()
    assert len(fired) == 2 and fired[1] - start >= 0.05


def test_repeat_until_the_callback_stops_it(loop: nioxide.EventLoop) -> None:
    runs: list[float] = []
    start = time.monotonic()

    def tick(timer: nioxide.Timer) -> None:
        runs.append(time.monotonic() - start)
        assert timer.is_active(), "a repeating timer is re-armed before its callback"
        if len(runs) == 4:
            timer.stop()

    timer = loop.timer(tick)
    timer.start(0.01, repeat=0.02)
    assert timer.repeat == pytest.approx(0.02)
    assert loop.run() is False
    assert len(runs) == 4 and not timer.is_active()
    for k, at in enumerate(runs):
        assert at >= 0.01 + 0.02 * k, f"run {k} early"


def test_a_one_shot_may_restart_itself_from_its_callback(loop: nioxide.EventLoop) -> None:
    runs: list[bool] = []

    def again(timer: nioxide.Timer) -> None:
        runs.append(timer.is_active())
        if len(runs) < 3:
            timer.start(0.005)

    loop.timer(again).start(0)
    assert loop.run() is False
    assert runs == [False, False, False], "a one-shot is stopped before its callback"


def test_a_timer_restarted_with_no_timeout_fires_on_a_later_turn(loop: nioxide.EventLoop) -> None:
    runs: list[int] = []

    def spin(timer: nioxide.Timer) -> None:
        runs.append(1)
        timer.start(0)

    timer = loop.timer(spin)
    timer.start(0)
    for turn in range(1, 4):
        assert loop.run(RUN_NOWAIT) is True
        assert len(runs) <= 2 * turn, "no turn runs forever"
    timer.close()
    assert loop.run() is False


def test_again_and_the_repeat_property(loop: nioxide.EventLoop) -> None:
    fired: list[float] = []
    timer = loop.timer(lambda t: fired.append(time.monotonic()))
    timer.again()  # no repeat: nothing
    assert not timer.is_active()
    timer.start(60)
    timer.again()
    due = timer.due_in
    assert due is not None and due > 59, "a one-shot is left alone"
    timer.repeat = 0.03
    assert timer.repeat == pytest.approx(0.03)
    due = timer.due_in
    assert due is not None and due > 59, "setting the repeat does not re-arm"
    start = time.monotonic()
    timer.again()
    due = timer.due_in
    assert due is not None and due <= 0.03
    while len(fired) < 2:
        loop.run(RUN_ONCE)
    assert fired[1] - start >= 0.06
    timer.repeat = 0  # the next expiry is the last
    assert loop.run() is False
    assert len(fired) == 3 and not timer.is_active()


def test_bad_arguments(loop: nioxide.EventLoop) -> None:
    with pytest.raises(TypeError):
        loop.timer(42)  # type: ignore[arg-type]
    timer = loop.timer(lambda t: None)
    for bad in (math.nan, -0.5):
        with pytest.raises(nioxide.InvalidArgumentError):
            timer.start(0.01, repeat=bad)
        with pytest.raises(nioxide.InvalidArgumentError):
            timer.repeat = bad
    with pytest.raises(nioxide.InvalidArgumentError):
        timer.start(math.nan)
    assert not timer.is_active()
    timer.start(-1)  # a negative timeout is 0
    due = timer.due_in
    assert due == 0.0
    timer.start(math.inf, repeat=math.inf)  # as good as never
    due = timer.due_in
    assert due is not None and due > 1e6
    timer.close()


def test_ref_and_unref(loop: nioxide.EventLoop) -> None:
    fired: list[str] = []
    timer = loop.timer(lambda t: fired.append("unrefd"))
    assert timer.has_ref()
    timer.unref()
    assert not timer.has_ref()
    timer.start(60)
    start = time.monotonic()
    assert loop.run() is False, "an unref'd timer keeps nothing alive"
    assert time.monotonic() - start < WAIT and timer.is_active()
    timer.ref()
    assert loop.run(RUN_NOWAIT) is True
    timer.unref()

    # An unref'd timer still fires while the loop runs for something else.
    timer.start(0.01)
    loop.timer(lambda t: fired.append("keeper")).start(0.05)
    assert loop.run() is False
    assert fired == ["unrefd", "keeper"]


def test_close_and_the_context_manager(loop: nioxide.EventLoop) -> None:
    fired: list[int] = []
    timer = loop.timer(fired.append)
    timer.start(0.01, repeat=0.01)
    timer.close()
    timer.close()  # idempotent
    assert not timer.is_active() and timer.due_in is None
    for call in (lambda: timer.start(0), timer.stop, timer.again):
        with pytest.raises(nioxide.InvalidStateError, match="closed"):
            call()
    with pytest.raises(nioxide.InvalidStateError):
        timer.repeat = 1
    assert "closed" in repr(timer)
    assert loop.run() is False and fired == []

    with loop.timer(fired.append) as managed:
        managed.start(60)
        assert "active" in repr(managed)
    assert not managed.is_active()
    with pytest.raises(nioxide.InvalidStateError):
        managed.start(0)


def test_a_callback_may_close_its_own_timer(loop: nioxide.EventLoop) -> None:
    runs: list[int] = []

    def once(timer: nioxide.Timer) -> None:
        runs.append(1)
        timer.close()

    loop.timer(once).start(0, repeat=0.001)
    assert loop.run() is False
    assert runs == [1]


def test_an_exception_goes_to_the_handler_and_the_timer_goes_on(loop: nioxide.EventLoop) -> None:
    handler = Handler()
    loop.set_exception_handler(handler)
    runs: list[int] = []

    def boom(timer: nioxide.Timer) -> None:
        runs.append(1)
        if len(runs) == 3:
            timer.stop()
        raise ValueError("boom")

    timer = loop.timer(boom)
    timer.start(0, repeat=0.001)
    assert loop.run() is False
    assert len(runs) == 3
    contexts = handler.wait(3)
    assert all(isinstance(c["exception"], ValueError) for c in contexts)
    assert contexts[0]["callback"] is boom and contexts[0]["timer"] is timer
    assert contexts[0]["loop"] is loop
    assert "Exception in timer callback" in contexts[0]["message"]


def test_keyboard_interrupt_from_a_timer_propagates_out_of_run(loop: nioxide.EventLoop) -> None:
    def interrupt(timer: nioxide.Timer) -> None:
        raise KeyboardInterrupt("from a timer")

    timer = loop.timer(interrupt)
    timer.start(0, repeat=60)  # would keep the run going
    with pytest.raises(KeyboardInterrupt, match="from a timer"):
        loop.run()
    assert timer.is_active()
    timer.close()


def test_the_callback_runs_in_the_context_of_the_timers_creation(
    threaded: nioxide.EventLoop,
) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []
    done = threading.Event()
    var.set("at creation")

    def check(timer: nioxide.Timer) -> None:
        seen.append(var.get())
        var.set("changed by the callback")
        if len(seen) == 2:
            timer.stop()
            done.set()

    timer = threaded.timer(check)
    var.set("after creation")
    timer.start(0, repeat=0.001)
    assert done.wait(WAIT)
    assert seen == ["at creation", "changed by the callback"], "one context, kept across runs"
    assert var.get() == "after creation"


def test_other_threads_start_and_stop_a_library_driven_loops_timer(threaded: nioxide.EventLoop) -> None:
    fired: list[int] = []
    ran = threading.Event()

    def on_fire(timer: nioxide.Timer) -> None:
        fired.append(threading.get_ident())
        ran.set()

    timer = threaded.timer(on_fire)
    start = time.monotonic()
    timer.start(0.02)  # the loop waits with no deadline: the start wakes it
    assert ran.wait(WAIT)
    assert time.monotonic() - start >= 0.02
    assert fired[0] != threading.get_ident()

    timer.start(0.1)
    timer.stop()
    time.sleep(0.15)
    assert len(fired) == 1, "stopped before it fired: it never runs"
    timer.close()


def test_a_stop_from_another_thread_prevents_the_next_expiry(threaded: nioxide.EventLoop) -> None:
    fired: list[float] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        release.wait(WAIT)

    timer = threaded.timer(lambda t: fired.append(time.monotonic()))
    timer.start(0.001, repeat=0.001)
    deadline = time.monotonic() + WAIT
    while len(fired) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    # The loop is held while the timer comes due: the stop is queued behind the hold, and the
    # loop's next timer phase comes before it.
    threaded.execute(hold)
    assert holding.wait(WAIT)
    time.sleep(0.005)
    timer.stop()
    assert not timer.is_active(), "at once"
    runs = len(fired)
    release.set()
    time.sleep(0.03)
    assert threaded.submit(lambda: None).result(WAIT) is None
    assert len(fired) == runs, "no expiry after the stop returned"
    timer.close()


def test_a_timer_with_no_reference_left_still_fires(loop: nioxide.EventLoop) -> None:
    fired: list[str] = []
    loop.timer(lambda t, s: fired.append(s), "kept by its loop").start(0.01)
    gc.collect()
    loop.run()
    assert fired == ["kept by its loop"]


def test_an_active_timer_whose_object_was_dropped_hands_its_callback_a_timer(
    loop: nioxide.EventLoop,
) -> None:
    got: list[nioxide.Timer] = []

    def tick(timer: nioxide.Timer) -> None:
        got.append(timer)
        if len(got) == 2:
            timer.stop()

    loop.timer(tick).start(0, repeat=0.001)
    gc.collect()
    assert loop.run() is False, "the callback stopped it through the object it got"
    assert len(got) == 2 and got[0] is got[1], "one object while it is referenced"


def test_a_stopped_timer_nothing_refers_to_is_freed_with_its_callback(
    loop: nioxide.EventLoop,
) -> None:
    class Payload:
        pass

    payloads = []
    for i in range(30):
        payload = Payload()
        payloads.append(weakref.ref(payload))
        timer = loop.timer(lambda t, p: None, payload)
        if i % 3 == 1:
            timer.start(60)
            timer.stop()
        elif i % 3 == 2:
            timer.start(0)  # a one-shot that fires below
    del payload, timer
    loop.run()
    gc.collect()
    assert [r for r in payloads if r() is not None] == [], "while the loop lives"


def test_shutdown_closes_timers_and_rejects_new_ones() -> None:
    lp = nioxide.EventLoop.spawn()
    timer = lp.timer(lambda t: None)
    timer.start(60, repeat=1)
    lp.shutdown_gracefully()
    assert lp.await_termination(WAIT)
    assert not timer.is_active()
    with pytest.raises(nioxide.InvalidStateError):
        timer.start(0)
    with pytest.raises(nioxide.RejectedExecutionError):
        lp.timer(lambda t: None)


def test_loop_timer_callback_cycles_are_collected() -> None:
    lp = nioxide.EventLoop()
    timer = lp.timer(lambda t: (lp, t))
    timer.start(60, repeat=60)
    lp.timer(lambda t: lp)  # never started
    ref = weakref.ref(lp)
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.EventLoop caller-driven>"):
        del lp, timer
        gc.collect()
    assert ref() is None


def test_fork_child_gets_forked_error(loop: nioxide.EventLoop) -> None:
    timer = loop.timer(lambda t: None)
    timer.start(60)
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if every check passes
        code = 1
        try:
            try:
                timer.start(0)
            except nioxide.ForkedError:
                timer.close()  # allowed, does nothing here
                with nioxide.EventLoop() as fresh:
                    hits: list[int] = []
                    fresh.timer(lambda t: hits.append(1)).start(0)
                    fresh.run()
                    if hits == [1]:
                        code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert timer.is_active(), "the parent's timer is unaffected"
    timer.close()


def test_a_huge_timeout_is_kept_exact(loop: nioxide.EventLoop) -> None:
    timer = loop.timer(lambda t: None)
    two_centuries = 200 * 365 * 24 * 3600.0
    timer.start(two_centuries)
    due = timer.due_in
    assert due is not None and two_centuries - 60 < due <= two_centuries
    timer.start(1e300)  # beyond the clock: never fires
    due = timer.due_in
    assert due is not None and due > two_centuries
    assert loop.run(nioxide.RUN_NOWAIT) is True
    timer.close()
