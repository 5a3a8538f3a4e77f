"""nioxide.EventLoop and nioxide.EventLoopGroup: the rules of issue 4, sections 1, 2, 5 and 6,
from Python."""

from __future__ import annotations

import contextvars
import errno
import gc
import itertools
import logging
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from conftest import os_threads, settled_os_threads
from support import WAIT, Handler, background, interrupt_main

import nioxide
from nioxide import OP_READ, OP_WRITE, RUN_DEFAULT, RUN_NOWAIT, RUN_ONCE


def _descriptors() -> set[tuple[str, str]]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except FileNotFoundError:
            continue  # the listing's own descriptor
    return found


@pytest.fixture
def handled(loop: nioxide.EventLoop) -> list[dict[str, Any]]:
    """The contexts `loop`'s exception handler receives."""
    handler = Handler()
    loop.set_exception_handler(handler)
    return handler.contexts


def on_loop(lp: nioxide.EventLoop, fn: Callable[[], Any]) -> Any:
    """Runs `fn` on a library-driven loop's thread and returns its result."""
    return lp.submit(fn).result(WAIT)


# --- run modes, ref/unref, stop ----------------------------------------------------------


def test_run_mode_constants_match_c() -> None:
    assert (RUN_DEFAULT, RUN_ONCE, RUN_NOWAIT) == (0, 1, 2)


def test_default_run_returns_when_nothing_is_referenced(loop: nioxide.EventLoop) -> None:
    assert loop.run() is False
    seen: list[int] = []
    loop.execute(seen.append, 1)
    assert seen == [], "no callback inside execute"
    assert loop.run(RUN_DEFAULT) is False
    assert seen == [1]


def test_nowait_and_once(loop: nioxide.EventLoop) -> None:
    fired: list[float] = []
    loop.schedule(0.05, lambda: fired.append(time.monotonic()))
    start = time.monotonic()
    assert loop.run(RUN_NOWAIT) is True, "the timer is still referenced"
    assert time.monotonic() - start < 0.04 and not fired
    while not fired:
        loop.run(RUN_ONCE)  # blocks until the timer is due
    assert fired[0] - start >= 0.05
    assert loop.run(RUN_NOWAIT) is False


def test_run_rejects_a_bad_mode(loop: nioxide.EventLoop) -> None:
    with pytest.raises(nioxide.InvalidArgumentError):
        loop.run(7)


def test_unref_timer_does_not_keep_the_loop_alive(loop: nioxide.EventLoop) -> None:
    timer = loop.schedule(60, lambda: None)
    assert timer.has_ref()
    timer.unref()
    assert not timer.has_ref()
    start = time.monotonic()
    assert loop.run() is False
    assert time.monotonic() - start < 1
    timer.ref()
    assert loop.run(RUN_NOWAIT) is True
    assert timer.cancel()
    assert loop.run() is False, "a cancelled timer releases its ref"


def test_an_unrefd_timer_still_fires_while_the_loop_runs(loop: nioxide.EventLoop) -> None:
    seen: list[str] = []
    loop.schedule(0.01, seen.append, "unref'd").unref()
    loop.schedule(0.05, seen.append, "ref'd")
    loop.run()
    assert seen == ["unref'd", "ref'd"]


def test_stop_before_run_returns_after_one_turn(loop: nioxide.EventLoop) -> None:
    loop.schedule(60, lambda: None)
    loop.stop()
    start = time.monotonic()
    assert loop.run() is True
    assert time.monotonic() - start < 1


def test_stop_from_another_thread(loop: nioxide.EventLoop) -> None:
    loop.schedule(60, lambda: None)
    stopper = background(loop.stop, delay=0.1)
    assert loop.run() is True
    stopper.done()


def test_stop_has_no_effect_on_a_library_driven_loop(threaded: nioxide.EventLoop) -> None:
    threaded.execute(threaded.stop)  # from its own thread
    threaded.stop()  # and from another
    time.sleep(0.05)
    assert threaded.submit(lambda: 7).result(WAIT) == 7, "its thread still runs"


def test_run_is_not_reentrant_and_not_for_library_driven_loops(
    loop: nioxide.EventLoop, threaded: nioxide.EventLoop
) -> None:
    errors: list[BaseException] = []

    def nested() -> None:
        try:
            loop.run()
        except nioxide.LoopBusyError as e:
            errors.append(e)

    loop.execute(nested)
    loop.run()
    assert len(errors) == 1
    with pytest.raises(nioxide.LoopBusyError):
        threaded.run()


def test_run_after_close(loop: nioxide.EventLoop) -> None:
    loop.close()
    assert loop.is_terminated()
    with pytest.raises(nioxide.ClosedEventLoopError) as raised:
        loop.run()
    assert isinstance(raised.value, RuntimeError)
    with pytest.raises(nioxide.RejectedExecutionError):
        loop.execute(print)
    loop.close()  # idempotent


def test_loop_basics(loop: nioxide.EventLoop) -> None:
    assert loop.in_event_loop(), "the creating thread owns a caller-driven loop"
    assert background(loop.in_event_loop).done() is False
    assert loop.fileno() == loop.backend_fd() >= 0
    assert loop.backend_timeout() is None
    assert 0 <= loop.now() <= loop.time() < 60
    assert not loop.is_library_driven() and not loop.is_shutting_down()
    assert set(loop.counters()) == {
        "turns",
        "events",
        "tasks_run",
        "timers_fired",
        "wait_ns",
        "panics",
        "unhandled_exceptions",
        "epoll_waits",
        "epoll_ctls",
        "backend_events",
        "empty_waits",
    }
    loop.execute(lambda: None)
    loop.run()
    assert loop.counters()["tasks_run"] == 1 and loop.counters()["turns"] >= 1
    assert "caller-driven open" in repr(loop)


def test_non_callables_are_refused(loop: nioxide.EventLoop) -> None:
    for register in (loop.execute, loop.submit, lambda c: loop.schedule(0, c)):
        with pytest.raises(TypeError):
            register(42)
    with pytest.raises(nioxide.InvalidArgumentError):
        loop.schedule_at_fixed_rate(0, 0, print)
    with pytest.raises(ValueError):
        loop.schedule(float("nan"), print)


def test_huge_delays_are_as_good_as_never(loop: nioxide.EventLoop) -> None:
    never = loop.schedule(float("inf"), print, "never")
    assert loop.backend_timeout() > 1e9
    seen: list[int] = []
    once = loop.schedule_at_fixed_rate(0, 1e300, seen.append, 1)
    loop.run(RUN_NOWAIT)
    assert seen == [1]
    assert never.cancel() and once.cancel()
    loop.shutdown_gracefully(quiet_period=0, timeout=float("inf"))
    assert loop.run() is False


# --- embedding ---------------------------------------------------------------------------


def test_embedding_through_the_backend_descriptor(loop: nioxide.EventLoop) -> None:
    """libuv's test-embed: a host loop polls the backend fd and runs NOWAIT turns."""
    poller = select.poll()
    poller.register(loop.backend_fd(), select.POLLIN)
    seen: list[str] = []

    def turn_when_ready(budget: float) -> None:
        timeout = loop.backend_timeout()
        wait = budget if timeout is None else min(timeout, budget)
        poller.poll(wait * 1000)
        loop.run(RUN_NOWAIT)

    # A task from this (the loop's own) thread wakes the descriptor.
    loop.execute(seen.append, "own thread")
    assert poller.poll(0), "the descriptor is readable"
    assert loop.backend_timeout() == 0
    turn_when_ready(WAIT)
    assert seen == ["own thread"]
    # A timer: the host waits for backend_timeout().
    loop.schedule(0.05, seen.append, "timer")
    assert 0 < loop.backend_timeout() <= 0.05
    while len(seen) < 2:
        turn_when_ready(WAIT)
    # A task from another thread.
    background(lambda: loop.execute(seen.append, "other thread")).done()
    turn_when_ready(WAIT)
    assert seen == ["own thread", "timer", "other thread"]
    assert not poller.poll(0)


# --- tasks ------------------------------------------------------------------------------


def test_tasks_run_in_submission_order(loop: nioxide.EventLoop) -> None:
    seen: list[int] = []
    futures = []
    for i in range(1000):
        if i % 3:
            loop.execute(seen.append, i)
        else:
            futures.append(loop.submit(seen.append, i))
    loop.run()
    assert seen == list(range(1000))
    assert all(f.result() is None for f in futures)


def test_tasks_queued_by_tasks_run_after_them(loop: nioxide.EventLoop) -> None:
    seen: list[str] = []

    def first() -> None:
        loop.execute(seen.append, "queued by a task")
        seen.append("first")

    loop.execute(first)
    loop.execute(seen.append, "second")
    loop.run()
    assert seen == ["first", "second", "queued by a task"]


def test_cross_thread_storm(threaded: nioxide.EventLoop) -> None:
    """4 threads x 100,000 tasks with per-producer sequence numbers: none lost, duplicated or
    reordered."""
    producers, per_producer = 4, 100_000
    received: list[tuple[int, int]] = []
    record = received.append  # a cheap callable: the loop runs 400,000 of them
    start = threading.Barrier(producers)

    def produce(p: int) -> None:
        execute = threaded.execute
        start.wait()
        for item in zip(itertools.repeat(p), range(per_producer)):
            execute(record, item)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert threaded.submit(len, received).result(60) == producers * per_producer
    for p in range(producers):
        assert [seq for q, seq in received if q == p] == list(range(per_producer)), p


def _thread_cpu_ticks(tid: int) -> int:
    """The CPU time (user + system, in clock ticks) thread ``tid`` of this process used."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat(5)


def test_a_loop_spins_only_briefly_after_a_stream_then_blocks(
    threaded: nioxide.EventLoop,
) -> None:
    """After a stream of tasks the loop watches its queue for microseconds, then blocks."""
    for _ in range(10_000):
        threaded.execute(int)
    tid = threaded.submit(threading.get_native_id).result(10)
    before = _thread_cpu_ticks(tid)
    time.sleep(0.5)
    spent = _thread_cpu_ticks(tid) - before
    # Spinning through the half second would be about 50 ticks; blocking, about none.
    assert spent <= 10, f"the idle loop thread used {spent} ticks of CPU in 0.5 s"
    assert threaded.submit(lambda: 7).result(10) == 7  # blocked, it still wakes


# --- timers ------------------------------------------------------------------------------


def test_timers_fire_in_deadline_order_and_never_early(loop: nioxide.EventLoop) -> None:
    fired: list[tuple[int, float]] = []
    delays = [0.03, 0.01, 0.05, 0.0, 0.02, 0.01, 0.04, 0.0]
    scheduled_at: dict[int, float] = {}
    for i, delay in enumerate(delays):
        scheduled_at[i] = time.monotonic()
        loop.schedule(delay, lambda i=i: fired.append((i, time.monotonic())))
    loop.run()
    order = [i for i, _ in fired]
    assert order == sorted(range(len(delays)), key=lambda i: (delays[i], i)), "ties in scheduling order"
    for i, at in fired:
        assert at - scheduled_at[i] >= delays[i], f"timer {i} fired early"


def test_cancel_before_and_after_firing(loop: nioxide.EventLoop) -> None:
    seen: list[str] = []
    early = loop.schedule(0.01, seen.append, "early")
    cancelled = loop.schedule(0.02, seen.append, "cancelled")
    assert cancelled.cancel() is True, "cancel before firing wins"
    assert cancelled.cancel() is True, "and it stays cancelled"
    assert cancelled.cancelled() and cancelled.done()
    loop.run()
    assert seen == ["early"]
    assert early.cancel() is False, "cancel after firing loses"
    assert early.result() is None and not early.cancelled()
    with pytest.raises(nioxide.CancelledError):
        cancelled.result()


def test_a_timer_cancelled_from_another_thread_never_runs(threaded: nioxide.EventLoop) -> None:
    seen: list[int] = []
    timers = [threaded.schedule(0.05, seen.append, i) for i in range(100)]
    assert all(t.cancel() for t in timers)
    threaded.schedule(0.1, lambda: None).result(WAIT)
    assert seen == []


def test_fixed_rate(loop: nioxide.EventLoop) -> None:
    runs: list[float] = []
    start = time.monotonic()

    def tick() -> None:
        runs.append(time.monotonic() - start)
        time.sleep(0.015)
        if len(runs) == 5:
            periodic.cancel()

    periodic = loop.schedule_at_fixed_rate(0.01, 0.02, tick)
    loop.run()
    assert len(runs) == 5 and periodic.cancelled()
    for k, at in enumerate(runs):
        assert at >= 0.01 + 0.02 * k, f"run {k} early"
    # Fixed rate: runs keep to the schedule (a late one does not shift the next ones), so
    # they come closer together than the period plus each run's length.
    assert runs[-1] - runs[0] < 4 * (0.02 + 0.015)


def test_fixed_delay(loop: nioxide.EventLoop) -> None:
    spans: list[tuple[float, float]] = []

    def work() -> None:
        begun = time.monotonic()
        time.sleep(0.01)
        spans.append((begun, time.monotonic()))
        if len(spans) == 4:
            periodic.cancel()

    periodic = loop.schedule_with_fixed_delay(0, 0.02, work)
    loop.run()
    assert len(spans) == 4
    for (_, ended), (begun, _) in itertools.pairwise(spans):
        assert begun - ended >= 0.02, "each run starts the delay after the previous ended"


def test_a_failing_periodic_task_stops_and_fails_its_future(loop: nioxide.EventLoop) -> None:
    runs: list[int] = []

    def tick() -> None:
        runs.append(1)
        if len(runs) == 3:
            raise ValueError("third run")

    periodic = loop.schedule_at_fixed_rate(0, 0.01, tick)
    loop.run()
    assert len(runs) == 3
    with pytest.raises(ValueError, match="third run"):
        periodic.result()


def test_a_fixed_rate_task_slower_than_its_period_does_not_pile_up_in_a_turn(
    loop: nioxide.EventLoop,
) -> None:
    runs: list[int] = []

    def slow() -> None:
        runs.append(1)
        time.sleep(0.003)

    periodic = loop.schedule_at_fixed_rate(0, 0.001, slow)
    time.sleep(0.005)
    for _ in range(6):
        before = len(runs)
        loop.run(RUN_NOWAIT)
        assert len(runs) - before <= 2, "one run per timer phase, two phases per turn"
    assert periodic.cancel()


# --- watches -----------------------------------------------------------------------------


def test_watch_a_raw_descriptor_level_triggered(loop: nioxide.EventLoop) -> None:
    a, b = socket.socketpair()
    with a, b:
        events: list[int] = []

        def ready(watch: nioxide.Watch, ops: int) -> None:
            events.append(ops)
            if len(events) == 2:
                watch.close()  # data left unread: reported again until closed

        b.send(b"x")
        watch = loop.watch(a, OP_READ, ready)
        assert watch.interest == OP_READ and watch.channel == a.fileno()
        assert watch.has_ref() and watch.is_active()
        loop.run()
        assert events == [OP_READ, OP_READ]
        assert not watch.is_active()
        assert a.recv(1) == b"x", "nioxide never reads or closes the descriptor"


def test_watch_interest_and_unref(loop: nioxide.EventLoop) -> None:
    a, b = socket.socketpair()
    with a, b:
        events: list[int] = []
        watch = loop.watch(a.fileno(), OP_READ, lambda w, ops: events.append(ops))
        watch.unref()
        assert loop.run() is False, "an unref'd watch does not keep the loop alive"
        watch.ref()
        watch.interest = OP_WRITE
        loop.run(RUN_ONCE)
        assert events == [OP_WRITE]
        watch.close()
        assert loop.run() is False


def test_a_watch_interest_out_of_range_is_a_value_error(loop: nioxide.EventLoop) -> None:
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(nioxide.InvalidArgumentError, match="OP_"):
            loop.watch(a.fileno(), -1, print)
        watch = loop.watch(a.fileno(), OP_READ, print)
        for ops in (-OP_READ, 2**32):
            with pytest.raises(ValueError):
                watch.interest = ops
        assert watch.interest == OP_READ
        watch.close()


def test_rejected_work_says_why(threaded: nioxide.EventLoop) -> None:
    """Shutting down, or terminated: the message says which (C's text covers both)."""
    release = threading.Event()
    threaded.execute(release.wait, WAIT)  # the shutdown waits for this task
    threaded.shutdown_gracefully(0, WAIT)
    with pytest.raises(nioxide.RejectedExecutionError, match="shutting down") as raised:
        threaded.submit(print)
    assert "terminated" not in str(raised.value)
    release.set()
    assert threaded.await_termination(WAIT)
    for offer in (
        lambda: threaded.execute(print),
        lambda: threaded.submit(print),
        lambda: threaded.schedule(1, print),
        lambda: threaded.timer(print),
    ):
        with pytest.raises(nioxide.RejectedExecutionError, match="terminated") as raised:
            offer()
        assert "shutting down" not in str(raised.value)


def test_watch_a_channel(loop: nioxide.EventLoop, server: nioxide.ServerSocketChannel) -> None:
    server.configure_blocking(False)
    accepted: list[nioxide.SocketChannel] = []

    def on_accept(watch: nioxide.Watch, ops: int) -> None:
        assert ops == nioxide.OP_ACCEPT and watch.channel is server
        channel = server.accept()
        if channel is not None:
            accepted.append(channel)
            watch.close()

    loop.watch(server, nioxide.OP_ACCEPT, on_accept)
    with socket.create_connection(server.local_address[:2]):
        loop.run()
    assert len(accepted) == 1
    accepted[0].close()


def test_interest_added_from_another_thread_wakes_the_loop(
    threaded: nioxide.EventLoop, pair: tuple[nioxide.SocketChannel, nioxide.SocketChannel]
) -> None:
    """Data the loop saw arrive while the watch had no read interest is served as soon as
    another thread adds it: no new event will come for it."""
    client, peer = pair
    peer.configure_blocking(False)
    seen = threading.Event()

    def ready(watch: nioxide.Watch, ops: int) -> None:
        if ops & OP_READ:
            seen.set()
        watch.interest = 0

    watch = threaded.watch(peer, OP_WRITE, ready)
    client.write(b"waiting")
    time.sleep(0.1)  # the loop sees the data arrive, without read interest, then waits
    watch.interest = OP_READ
    assert seen.wait(WAIT), "the new interest was served without a new event"
    watch.close()


def test_a_blocking_channel_cannot_be_watched(
    loop: nioxide.EventLoop, server: nioxide.ServerSocketChannel
) -> None:
    with pytest.raises(nioxide.IllegalBlockingModeError):
        loop.watch(server, nioxide.OP_ACCEPT, print)


def test_watch_refuses_what_it_cannot_watch(loop: nioxide.EventLoop) -> None:
    with pytest.raises(TypeError):
        loop.watch(object(), OP_READ, print)
    with pytest.raises(TypeError):
        loop.watch(0, OP_READ, 42)
    with pytest.raises(TypeError):
        loop.watch(True, OP_READ, print)  # an int, but no descriptor number
    with pytest.raises(OverflowError):
        loop.watch(2**31, OP_READ, print)

    class Broken:
        def fileno(self) -> int:
            raise LookupError("no descriptor today")

    with pytest.raises(LookupError, match="no descriptor today"):
        loop.watch(Broken(), OP_READ, print)
    with open(__file__) as regular, pytest.raises(nioxide.NioxideOSError) as raised:
        loop.watch(regular, OP_READ, print)  # epoll cannot watch a regular file
    assert raised.value.errno == errno.EPERM


# --- exceptions from callbacks -----------------------------------------------------------


def test_a_callback_that_raises_goes_to_the_handler_and_the_loop_goes_on(
    loop: nioxide.EventLoop, handled: list[dict[str, Any]]
) -> None:
    seen: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    loop.execute(boom)
    loop.execute(seen.append, "after")
    assert loop.run() is False
    assert seen == ["after"]
    (context,) = handled
    assert isinstance(context["exception"], ValueError)
    assert context["callback"] is boom and context["loop"] is loop
    assert "Exception in callback" in context["message"]
    assert context["exception"].__traceback__ is not None


def test_the_default_handler_logs_to_the_nioxide_logger(
    loop: nioxide.EventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise KeyError("logged")

    assert loop.get_exception_handler() is None
    with caplog.at_level(logging.ERROR, logger="nioxide"):
        loop.execute(boom)
        loop.run()
    (record,) = caplog.records
    assert record.name == "nioxide" and "Exception in callback" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_a_handler_that_raises_is_logged(loop: nioxide.EventLoop, caplog: pytest.LogCaptureFixture) -> None:
    def bad_handler(lp: Any, context: Any) -> None:
        raise RuntimeError("handler failed")

    loop.set_exception_handler(bad_handler)
    assert loop.get_exception_handler() is bad_handler
    with caplog.at_level(logging.ERROR, logger="nioxide"):
        loop.execute(lambda: 1 / 0)
        loop.run()
    assert "Unhandled error in exception handler" in caplog.text
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_a_threaded_loops_callbacks_report_to_its_handler(threaded: nioxide.EventLoop) -> None:
    handler = Handler()
    threaded.set_exception_handler(handler)
    threaded.execute(lambda: 1 / 0)
    assert isinstance(handler.wait(1)[0]["exception"], ZeroDivisionError)
    assert handler.loops == [threaded]

    # A BaseException has no run() to propagate out of: it goes to the handler too.
    def interrupt() -> None:
        raise KeyboardInterrupt

    threaded.execute(interrupt)
    assert isinstance(handler.wait(2)[1]["exception"], KeyboardInterrupt)
    assert on_loop(threaded, lambda: "still running") == "still running"


def test_keyboard_interrupt_from_a_callback_propagates_out_of_run(loop: nioxide.EventLoop) -> None:
    seen: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt("from a callback")

    loop.execute(interrupt)
    loop.execute(seen.append, "rest of the turn")
    loop.schedule(60, lambda: None)  # would keep the run going
    with pytest.raises(KeyboardInterrupt, match="from a callback"):
        loop.run()
    assert seen == ["rest of the turn"]
    # The loop is intact and runs again.
    loop.execute(loop.stop)
    assert loop.run() is True


def test_system_exit_from_a_submitted_callable(loop: nioxide.EventLoop) -> None:
    future = loop.submit(sys.exit, 3)
    with pytest.raises(SystemExit):
        loop.run()
    assert isinstance(future.exception(), SystemExit), "the future gets it too"


# --- callbacks that stop or close their own loop ------------------------------------------


def test_a_callback_stops_its_loop(loop: nioxide.EventLoop) -> None:
    loop.schedule(60, lambda: None)
    loop.execute(loop.stop)
    assert loop.run() is True


def test_a_callback_closes_its_caller_driven_loop(loop: nioxide.EventLoop) -> None:
    seen: list[str] = []
    loop.schedule(60, seen.append, "never")
    loop.execute(loop.close)
    assert loop.run() is False
    assert loop.is_terminated() and seen == []


def test_a_callback_closes_its_library_driven_loop() -> None:
    lp = nioxide.EventLoop.spawn()
    seen: list[str] = []
    lp.schedule(60, seen.append, "never")
    lp.execute(lp.close)  # on its own thread: shuts down without waiting for itself
    assert lp.await_termination(WAIT)
    assert seen == []


def test_await_termination_on_the_loops_own_thread_is_an_error(
    threaded: nioxide.EventLoop, loop: nioxide.EventLoop
) -> None:
    error = on_loop(threaded, lambda: pytest.raises(nioxide.DeadlockError, threaded.await_termination, 1))
    assert error.type is nioxide.DeadlockError
    # A caller-driven loop, from one of its callbacks (inside run()).
    future = loop.submit(loop.await_termination, 60)
    loop.run()
    assert isinstance(future.exception(), nioxide.DeadlockError)


# --- Ctrl-C -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["main", "process"])
def test_ctrl_c_interrupts_run(loop: nioxide.EventLoop, sigint_handler: None, how: str) -> None:
    loop.schedule(60, lambda: None)
    sender = interrupt_main(0.2, how)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        loop.run()
    assert time.monotonic() - start < WAIT
    sender.done()
    loop.execute(loop.stop)
    assert loop.run() is True, "the loop is intact"


# --- shutdown -----------------------------------------------------------------------------


def test_graceful_shutdown_runs_queued_work_and_rejects_new_work() -> None:
    lp = nioxide.EventLoop.spawn()
    gate = threading.Event()
    seen: list[int] = []
    lp.execute(gate.wait, WAIT)
    futures = [lp.submit(seen.append, i) for i in range(100)]
    timer = lp.schedule(60, seen.append, -1)
    lp.shutdown_gracefully()
    assert lp.is_shutting_down()
    with pytest.raises(nioxide.RejectedExecutionError):
        lp.execute(print)
    with pytest.raises(nioxide.RejectedExecutionError):
        lp.schedule(0, print)
    gate.set()
    assert lp.await_termination(WAIT)
    assert seen == list(range(100)), "queued work ran"
    assert all(f.done() and not f.cancelled() for f in futures)
    with pytest.raises(nioxide.CancelledError):
        timer.result(0)  # a timer not yet due is cancelled


def test_work_from_the_loops_own_thread_is_accepted_while_shutting_down() -> None:
    lp = nioxide.EventLoop.spawn()
    seen: list[str] = []

    def during_shutdown() -> None:
        lp.shutdown_gracefully()
        lp.execute(seen.append, "own thread")

    lp.execute(during_shutdown)
    assert lp.await_termination(WAIT)
    assert seen == ["own thread"]


def test_graceful_shutdown_waits_for_the_quiet_period() -> None:
    lp = nioxide.EventLoop.spawn()
    started = time.monotonic()
    lp.shutdown_gracefully(quiet_period=0.2, timeout=WAIT)
    assert lp.await_termination(WAIT)
    assert time.monotonic() - started >= 0.2


def test_graceful_shutdown_stops_at_its_timeout() -> None:
    lp = nioxide.EventLoop.spawn()

    def busy() -> None:  # keeps queuing work from the loop's thread
        lp.execute(busy)

    lp.execute(busy)
    started = time.monotonic()
    lp.shutdown_gracefully(quiet_period=1, timeout=0.2)
    assert lp.await_termination(WAIT)
    assert 0.2 <= time.monotonic() - started < WAIT


def test_shutdown_now_drops_queued_work_and_cancels_its_futures() -> None:
    lp = nioxide.EventLoop()
    future = lp.submit(lambda: "never")
    lp.shutdown_now()
    lp.close()
    with pytest.raises(nioxide.CancelledError):
        future.result(0)


def test_caller_driven_graceful_shutdown_drains_in_run(loop: nioxide.EventLoop) -> None:
    seen: list[int] = []
    for i in range(10):
        loop.execute(seen.append, i)
    loop.shutdown_gracefully()
    assert loop.run() is False
    assert loop.is_terminated() and seen == list(range(10))
    assert loop.await_termination(0)


def test_context_managers_shut_down_and_join() -> None:
    threads = os_threads()
    with nioxide.EventLoop.spawn() as lp:
        assert os_threads() == threads + 1
        future = lp.submit(lambda: threading.current_thread().ident)
    assert lp.is_terminated() and future.done()
    assert settled_os_threads(threads) == threads
    with nioxide.EventLoop() as caller_driven:
        pass
    assert caller_driven.is_terminated()


# --- contextvars --------------------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_callbacks_run_in_the_context_of_their_registration(threaded: nioxide.EventLoop) -> None:
    token = request_id.set("registered")
    try:
        future = threaded.submit(request_id.get)
        seen = threaded.create_promise()
        seen.add_done_callback(lambda f: request_id.set("changed inside"))
        timer = threaded.schedule(0, request_id.get)
    finally:
        request_id.reset(token)
    assert future.result(WAIT) == "registered"
    assert timer.result(WAIT) == "registered"
    seen.set_result(None)
    assert on_loop(threaded, request_id.get) == "none", "a callback's changes stay in its context"
    assert request_id.get() == "none"


# --- garbage collection -------------------------------------------------------------------


def test_loop_callback_loop_cycles_are_collected() -> None:
    a, b = socket.socketpair()
    with a, b:
        lp = nioxide.EventLoop()
        lp.execute(lambda: lp.stop())
        lp.schedule(60, lambda: lp)
        lp.schedule_at_fixed_rate(60, 60, lp.stop)
        lp.watch(a, OP_READ, lambda w, ops: lp)
        lp.set_exception_handler(lambda loop, context: lp)
        promise = lp.create_promise()
        promise.add_done_callback(lambda f: (lp, promise))
        ref = weakref.ref(lp)
        with pytest.warns(ResourceWarning, match="unclosed <nioxide.EventLoop caller-driven>"):
            del lp, promise
            gc.collect()
        assert ref() is None


def test_abandoned_loops_and_groups_warn_and_are_shut_down() -> None:
    """A loop or group that goes away without close() or a shutdown: a ResourceWarning (as
    asyncio's "unclosed event loop"), and it is shut down (its threads end)."""
    threads = os_threads()
    with pytest.warns(ResourceWarning) as got:
        nioxide.EventLoop()
        nioxide.EventLoop.spawn()
        nioxide.EventLoopGroup(2)
        gc.collect()
    assert [str(w.message) for w in got] == [
        "unclosed <nioxide.EventLoop caller-driven>",
        "unclosed <nioxide.EventLoop library-driven>",
        "unclosed <nioxide.EventLoopGroup loops=2>",
    ]
    assert settled_os_threads(threads) == threads, "the abandoned loops' threads ended"

    with warnings.catch_warnings(record=True) as none:
        warnings.simplefilter("always")
        with nioxide.EventLoop():
            pass
        spawned = nioxide.EventLoop.spawn()
        spawned.shutdown_gracefully()  # asked to stop: not abandoned, even if not awaited
        group = nioxide.EventLoopGroup(2)
        members = group.loops
        group.shutdown_gracefully()
        assert group.await_termination(WAIT) and spawned.await_termination(WAIT)
        del spawned, group, members  # a group's loops are the group's to shut down
        gc.collect()
    assert none == []


def test_a_library_driven_loop_is_released_once_shut_down() -> None:
    lp = nioxide.EventLoop.spawn()
    lp.schedule_at_fixed_rate(60, 60, lambda: lp)
    ref = weakref.ref(lp)
    lp.shutdown_gracefully()
    assert lp.await_termination(WAIT)
    del lp
    gc.collect()
    assert ref() is None


def test_an_unreferenced_library_driven_loop_still_runs_its_queued_work() -> None:
    ran = threading.Event()
    threads = os_threads()
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.EventLoop library-driven>"):
        nioxide.EventLoop.spawn().execute(ran.set)  # the object goes at once: graceful shutdown
    assert ran.wait(WAIT)
    assert settled_os_threads(threads) == threads


def test_a_loop_thread_keeps_its_python_thread_state_until_the_loop_ends() -> None:
    """One thread state per loop thread: `threading.local` data lasts from turn to turn, and
    is released (with the thread state) when the loop terminates."""

    class Value:
        pass

    local = threading.local()
    lp = nioxide.EventLoop.spawn()
    lp.submit(setattr, local, "value", Value()).result(WAIT)
    lp.submit(lambda: None).result(WAIT)  # another turn
    value = weakref.ref(lp.submit(getattr, local, "value").result(WAIT))
    assert value() is not None
    lp.shutdown_gracefully()
    assert lp.await_termination(WAIT)
    gc.collect()
    assert value() is None, "the thread state (and its thread-local data) was deleted"


# --- descriptors ---------------------------------------------------------------------------


def test_loops_release_their_descriptors() -> None:
    """A loop's descriptors (epoll, waker) go with its last handle: closed and collected."""
    gc.collect()
    before = _descriptors()
    a, b = socket.socketpair()
    with a, b:
        for _ in range(3):
            with nioxide.EventLoop() as lp:
                lp.watch(a, OP_READ, lambda w, ops: None)
                lp.schedule(60, print)
                lp.submit(print)
            with nioxide.EventLoop.spawn() as lp:
                lp.watch(a, OP_READ, lambda w, ops: None)
                lp.schedule_at_fixed_rate(0, 60, print)
            with nioxide.EventLoopGroup(2) as group:
                group.schedule(60, print)
            with pytest.warns(ResourceWarning, match="unclosed <nioxide.EventLoop caller-driven>"):
                nioxide.EventLoop()  # dropped unclosed
        del lp, group
        gc.collect()
        assert _descriptors() - before == {
            (str(a.fileno()), os.readlink(f"/proc/self/fd/{a.fileno()}")),
            (str(b.fileno()), os.readlink(f"/proc/self/fd/{b.fileno()}")),
        }


# --- fork and interpreter exit -----------------------------------------------------------


def test_fork_child_gets_forked_error_and_can_make_new_loops(threaded: nioxide.EventLoop) -> None:
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if every check passes
        code = 1
        try:
            try:
                threaded.execute(print)
            except nioxide.ForkedError:
                with nioxide.EventLoop.spawn() as fresh:
                    if fresh.submit(lambda: 7).result(WAIT) == 7:
                        code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert on_loop(threaded, lambda: "parent unaffected") == "parent unaffected"


def test_interpreter_exit_shuts_loops_down() -> None:
    """A program that leaves library-driven loops and a group running exits cleanly."""
    program = textwrap.dedent(
        """
        import sys, time, nioxide
        loop = nioxide.EventLoop.spawn()
        group = nioxide.EventLoopGroup(2)
        def busy():
            time.sleep(0.001)
        loop.schedule_at_fixed_rate(0, 0.001, busy)
        group.schedule_at_fixed_rate(0, 0.001, busy)
        group.execute(busy)
        late = loop.schedule(60, print, "never")
        cycle = nioxide.EventLoop.spawn()
        cycle.schedule_with_fixed_delay(0, 0.001, lambda: cycle)
        del cycle
        time.sleep(0.05)
        print("exiting")
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exiting\n" and "Fatal" not in done.stderr and "never" not in done.stdout


def test_interpreter_exit_with_a_loop_spawned_during_the_exit_drain() -> None:
    """A callback run by the exit hook's drain spawns a loop: refused, and the exit is clean
    (a loop started then would never be joined, and its thread would crash the finalizing
    interpreter); a loop already shutting down with no deadline is cut short."""
    program = textwrap.dedent(
        """
        import time, nioxide
        loop = nioxide.EventLoop.spawn()
        def late_spawn():
            time.sleep(0.01)
            try:
                nioxide.EventLoop.spawn().execute(print, "spawned")
            except nioxide.RejectedExecutionError:
                print("refused")
        loop.execute(late_spawn)
        endless = nioxide.EventLoop.spawn()
        def again():
            time.sleep(0.001)
            endless.execute(again)
        endless.execute(again)
        endless.shutdown_gracefully(0, float("inf"))
        print("exiting")
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Fatal" not in done.stderr and "FATAL" not in done.stderr
    # Whether the late spawn came before the hook ("spawned": then it is joined) or during it.
    assert done.stdout.splitlines()[0] == "exiting", done.stdout


def test_a_parents_future_raises_forked_error_in_a_child(threaded: nioxide.EventLoop) -> None:
    future = threaded.create_promise()
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if every call refuses
        code = 0
        for call in (
            lambda: future.result(0.1),
            future.exception,
            future.done,
            future.cancel,
            lambda: future.set_result(1),
        ):
            try:
                call()
                code = 1
            except nioxide.ForkedError:
                pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    future.set_result("parent's")
    assert future.result(WAIT) == "parent's"


# --- groups --------------------------------------------------------------------------------


def test_group_round_robin_and_delegation() -> None:
    with nioxide.EventLoopGroup(3) as group:
        assert len(group) == 3 and list(group) == group.loops
        assert all(lp.is_library_driven() for lp in group)
        picked = [group.next() for _ in range(6)]
        assert picked[:3] == picked[3:] and len({id(lp) for lp in picked[:3]}) == 3
        threads = {group.submit(threading.get_ident).result(WAIT) for _ in range(3)}
        assert len(threads) == 3, "submit goes to the next loop each time"
        assert group.schedule(0.01, lambda: "timer").result(WAIT) == "timer"
        ran = threading.Event()
        group.execute(ran.set)
        assert ran.wait(WAIT)
        assert "EventLoopGroup loops=3 open" in repr(group)
    assert group.is_terminated()
    with pytest.raises(nioxide.RejectedExecutionError):
        group.execute(print)


def test_group_defaults_to_one_loop_per_core_and_refuses_zero() -> None:
    with nioxide.EventLoopGroup() as group:
        assert len(group) == os.cpu_count()
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.EventLoopGroup(0)
    for too_many in (4097, 2**40, 2**64 - 1):
        with pytest.raises(nioxide.InvalidArgumentError):
            nioxide.EventLoopGroup(too_many)


def test_group_shutdown_and_await_termination() -> None:
    group = nioxide.EventLoopGroup(2)
    loop = group.next()
    assert loop.submit(lambda: group.await_termination(0.1)).exception(WAIT).__class__ is nioxide.DeadlockError
    handler = Handler()
    group.set_exception_handler(handler)
    for lp in group:
        lp.execute(lambda: 1 / 0)
    group.shutdown_gracefully()
    assert group.is_shutting_down()
    assert group.await_termination(WAIT)
    assert sorted(map(id, handler.loops)) == sorted(map(id, group.loops))
    group.close()


# --- defects found by testing as users would ----------------------------------------------


def test_closing_the_watched_channel_in_its_callback_ends_the_watch(
    loop: nioxide.EventLoop, pair: tuple[nioxide.SocketChannel, nioxide.SocketChannel]
) -> None:
    client, peer = pair
    peer.configure_blocking(False)
    calls: list[int] = []

    def on_ready(watch: nioxide.Watch, ops: int) -> None:
        calls.append(ops)
        if peer.read(16) == b"":
            peer.close()  # end of stream: close

    watch = loop.watch(peer, OP_READ, on_ready)
    client.close()
    started = time.monotonic()
    assert loop.run() is False, "the run returns"
    assert time.monotonic() - started < WAIT
    assert calls == [OP_READ]
    assert not watch.is_active()
    assert not loop.is_alive()


def test_closing_the_watched_channel_elsewhere_ends_the_watch(
    loop: nioxide.EventLoop, pair: tuple[nioxide.SocketChannel, nioxide.SocketChannel]
) -> None:
    _, peer = pair
    peer.configure_blocking(False)
    class Callback:
        def __call__(self, watch: nioxide.Watch, ops: int) -> None:
            pass

    callback = Callback()
    gone = weakref.ref(callback)
    watch = loop.watch(peer, OP_READ, callback)
    del callback
    assert loop.is_alive()
    peer.close()
    gc.collect()
    assert gone() is None, "the callback is released when the channel closes"
    assert not watch.is_active()
    assert not loop.is_alive()
    assert loop.run() is False


def test_a_closed_watch_leaves_its_channel_open_when_the_loop_closes(
    pair: tuple[nioxide.SocketChannel, nioxide.SocketChannel]
) -> None:
    client, peer = pair
    peer.configure_blocking(False)
    with nioxide.EventLoop() as lp:
        watch = lp.watch(peer, OP_READ, lambda w, ops: None)
        watch.close()
    assert peer.is_open(), "a closed watch no longer owns its channel"
    client.write(b"alive")
    peer.configure_blocking(True)
    assert peer.read(16) == b"alive"


def test_a_task_queued_by_a_task_runs_in_the_next_turn(loop: nioxide.EventLoop) -> None:
    runs: list[int] = []

    def requeue() -> None:
        runs.append(1)
        if len(runs) < 100:
            loop.execute(requeue)

    loop.execute(requeue)
    for turn in (1, 2, 3):
        assert loop.run(RUN_ONCE) is True
        assert len(runs) == turn, "one run per turn"
    assert loop.run() is False
    assert len(runs) == 100


def test_run_once_with_nothing_referenced_returns_at_once(loop: nioxide.EventLoop) -> None:
    assert loop.is_alive() is False
    started = time.monotonic()
    assert loop.run(RUN_ONCE) is False
    timer = loop.schedule(60.0, print)
    assert loop.is_alive() is True
    timer.unref()
    assert loop.is_alive() is False
    assert loop.run(RUN_ONCE) is False
    loop.execute(lambda: None)
    assert loop.is_alive() is True
    assert loop.run(RUN_ONCE) is False
    assert time.monotonic() - started < WAIT
    timer.cancel()


@pytest.mark.parametrize("count", [0, 1, 5, 6, 7, 12])
def test_a_callback_gets_every_argument_in_order(loop: nioxide.EventLoop, count: int) -> None:
    # Up to six arguments (with the callable) travel on the C stack, more in a tuple: both
    # paths pass every argument, in order, and a callback's exception still reaches its future.
    args = tuple(range(count))
    got = loop.submit(lambda *a: a, *args)
    failed = loop.submit(lambda *a: [][len(a)], *args)
    loop.run(RUN_DEFAULT)
    assert got.result(WAIT) == args
    with pytest.raises(IndexError):
        failed.result(WAIT)
