"""nioxide.Future: issue 4, section 3 (promises) from Python, with concurrent.futures names."""

from __future__ import annotations

import concurrent.futures
import gc
import threading
import time
import weakref
from typing import Any

import pytest
from support import WAIT, Handler, background, interrupt_main

import nioxide


def test_exception_classes_fit_concurrent_futures() -> None:
    assert issubclass(nioxide.CancelledError, concurrent.futures.CancelledError)
    assert issubclass(nioxide.InvalidStateError, concurrent.futures.InvalidStateError)
    assert issubclass(nioxide.TimeoutError, concurrent.futures.TimeoutError)
    for cls in (nioxide.RejectedExecutionError, nioxide.DeadlockError, nioxide.LoopBusyError):
        assert issubclass(cls, RuntimeError) and issubclass(cls, nioxide.NioxideError)
    assert nioxide.CancelledError.code == "NX_ECANCELLED"
    assert nioxide.DeadlockError.code == "NX_EDEADLK"


def test_result_and_exception(threaded: nioxide.EventLoop) -> None:
    ok = threaded.submit(divmod, 7, 2)
    assert ok.result(WAIT) == (3, 1) and ok.exception() is None
    assert ok.done() and not ok.cancelled()

    def fail() -> None:
        raise LookupError("failed")

    failed = threaded.submit(fail)
    with pytest.raises(LookupError, match="failed") as raised:
        failed.result(WAIT)
    assert failed.exception() is raised.value, "the very exception the callable raised"
    assert "LookupError" in repr(failed) and "(3, 1)" in repr(ok)


def test_result_with_timeout(threaded: nioxide.EventLoop) -> None:
    promise = threaded.create_promise()
    start = time.monotonic()
    with pytest.raises(TimeoutError) as raised:
        promise.result(timeout=0.1)
    assert time.monotonic() - start >= 0.1
    assert isinstance(raised.value, nioxide.TimeoutError) and raised.value.errno is not None
    with pytest.raises(TimeoutError):
        promise.exception(timeout=0)
    completer = background(lambda: promise.set_result("late"), delay=0.1)
    assert promise.result(timeout=1e18) == "late", "a huge timeout is as good as forever"
    completer.done()
    assert "pending" not in repr(promise)


def test_result_on_the_loops_own_thread_raises_deadlock_error(
    threaded: nioxide.EventLoop, loop: nioxide.EventLoop
) -> None:
    def wait_for_own_future() -> Any:
        inner = threaded.create_promise()
        with pytest.raises(nioxide.DeadlockError):
            inner.result()
        with pytest.raises(TimeoutError):
            inner.result(timeout=0)  # a zero wait only looks: no deadlock
        return "checked"

    assert threaded.submit(wait_for_own_future).result(WAIT) == "checked"
    # A caller-driven loop: its owner thread would be the one to run it.
    pending = loop.submit(lambda: "ran")
    with pytest.raises(nioxide.DeadlockError):
        pending.result()
    loop.run()
    assert pending.result() == "ran"


def test_cancel(threaded: nioxide.EventLoop) -> None:
    promise = threaded.create_promise()
    assert promise.cancel() is True and promise.cancel() is True
    assert promise.cancelled() and promise.done()
    with pytest.raises(nioxide.CancelledError):
        promise.result()
    with pytest.raises(nioxide.CancelledError):
        promise.exception()
    with pytest.raises(nioxide.InvalidStateError):
        promise.set_result(1)
    done = threaded.submit(lambda: 1)
    done.result(WAIT)
    assert done.cancel() is False and not done.cancelled()
    assert "cancelled" in repr(promise)


def test_a_task_cancelled_before_it_runs_never_runs(loop: nioxide.EventLoop) -> None:
    seen: list[int] = []
    future = loop.submit(seen.append, 1)
    assert future.cancel()
    loop.run()
    assert seen == []


def test_set_result_and_set_exception_once(threaded: nioxide.EventLoop) -> None:
    promise = nioxide.Future(threaded)
    assert promise.get_loop() is threaded
    promise.set_result({"a": 1})
    with pytest.raises(nioxide.InvalidStateError) as raised:
        promise.set_result(2)
    assert isinstance(raised.value, concurrent.futures.InvalidStateError)
    with pytest.raises(nioxide.InvalidStateError):
        promise.set_exception(ValueError())
    assert promise.result() == {"a": 1}

    failed = threaded.create_promise()
    failed.set_exception(KeyError)  # a class is instantiated
    assert isinstance(failed.exception(), KeyError)
    with pytest.raises(TypeError):
        threaded.create_promise().set_exception("not an exception")  # type: ignore[arg-type]


def test_a_future_subclass_takes_its_own_init_arguments(loop: nioxide.EventLoop) -> None:
    class Tagged(nioxide.Future[int]):
        def __init__(self, event_loop: nioxide.EventLoop, tag: str, *, extra: int = 0) -> None:
            super().__init__()  # the loop was taken by __new__
            self.tag = tag
            self.extra = extra

    tagged = Tagged(loop, "mine", extra=2)
    assert (tagged.tag, tagged.extra, tagged.get_loop()) == ("mine", 2, loop)
    tagged.set_result(3)
    assert tagged.result() == 3


def test_the_future_of_a_task_is_completed_only_by_its_task(loop: nioxide.EventLoop) -> None:
    for future in (loop.submit(lambda: "ran"), loop.schedule(0, lambda: "ran")):
        with pytest.raises(nioxide.InvalidArgumentError, match="completed by its task"):
            future.set_result("not mine")
        with pytest.raises(nioxide.InvalidArgumentError):
            future.set_exception(ValueError)
    loop.run()
    assert future.result() == "ran"


def test_done_callbacks_run_in_order_on_the_loop_later(threaded: nioxide.EventLoop) -> None:
    promise = threaded.create_promise()
    calls: list[tuple[str, int, bool]] = []
    finished = threading.Event()
    loop_thread = threaded.submit(threading.get_ident).result(WAIT)

    def callback(name: str) -> Any:
        return lambda f: calls.append((name, threading.get_ident(), f is promise))

    for name in "abc":
        promise.add_done_callback(callback(name))
    promise.set_result(None)
    promise.add_done_callback(callback("late"))  # added after completion
    assert not any(name == "late" for name, _, _ in calls), "never inside add_done_callback"
    promise.add_done_callback(lambda f: finished.set())
    assert finished.wait(WAIT)
    assert [name for name, _, _ in calls] == ["a", "b", "c", "late"]
    assert all(thread == loop_thread and same for _, thread, same in calls)


def test_a_done_callback_that_raises_goes_to_the_handler(threaded: nioxide.EventLoop) -> None:
    handler = Handler()
    threaded.set_exception_handler(handler)
    promise = threaded.create_promise()

    def bad(f: nioxide.Future[Any]) -> None:
        raise ValueError("in a done callback")

    promise.add_done_callback(bad)
    promise.set_result(1)
    (context,) = handler.wait(1)
    assert context["future"] is promise and context["callback"] is bad
    assert isinstance(context["exception"], ValueError)


@pytest.mark.parametrize("how", ["main", "process"])
def test_ctrl_c_interrupts_result(threaded: nioxide.EventLoop, sigint_handler: None, how: str) -> None:
    promise = threaded.create_promise()
    sender = interrupt_main(0.2, how)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        promise.result()
    assert time.monotonic() - start < WAIT
    sender.done()


def test_futures_are_generic_and_scheduled_futures_ref(loop: nioxide.EventLoop) -> None:
    assert nioxide.Future[int].__origin__ is nioxide.Future
    timer = loop.schedule(60, print)
    assert isinstance(timer, nioxide.Future) and isinstance(timer, nioxide.ScheduledFuture)
    timer.unref()
    assert not timer.has_ref()
    timer.ref()
    assert timer.has_ref()
    assert timer.cancel()


def test_a_future_result_cycle_is_collected(threaded: nioxide.EventLoop) -> None:
    class Holder:
        future: Any = None

    holder = Holder()
    holder.future = threaded.create_promise()
    holder.future.set_result(holder)
    ref = weakref.ref(holder)
    del holder
    gc.collect()
    assert ref() is None


def test_a_done_callback_cycle_on_a_caller_driven_loop_is_collected() -> None:
    lp = nioxide.EventLoop()
    promise = lp.create_promise()
    promise.add_done_callback(lambda f: (promise, lp))
    refs = weakref.ref(lp), weakref.ref(promise)
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.EventLoop caller-driven>"):
        del lp, promise
        gc.collect()
    assert refs[0]() is None and refs[1]() is None


def test_an_abandoned_promise_on_a_library_driven_loop_is_collected(
    threaded: nioxide.EventLoop,
) -> None:
    """Its done callback holds it; nothing else can complete it, so the cycle is garbage."""

    class Marker:
        pass

    promise = threaded.create_promise()
    marker = Marker()
    promise.add_done_callback(lambda f, m=marker: None)
    refs = weakref.ref(promise), weakref.ref(marker)
    del promise, marker
    gc.collect()
    assert refs[0]() is None and refs[1]() is None


def test_a_completed_promise_keeps_its_owed_callback_through_a_collection(
    threaded: nioxide.EventLoop,
) -> None:
    """Completed while the loop is busy, dropped, collected: the callback is still owed and
    runs."""
    release = threading.Event()
    ran = threading.Event()
    threaded.execute(release.wait, WAIT)  # the loop is busy: the listener waits in the queue
    promise = threaded.create_promise()
    promise.add_done_callback(lambda f: ran.set())
    promise.set_result(1)
    del promise
    gc.collect()
    release.set()
    assert ran.wait(WAIT)


def test_a_pending_task_future_on_a_library_driven_loop_keeps_its_callback(
    threaded: nioxide.EventLoop,
) -> None:
    """The loop completes a task's future: its done callback must still run, however
    unreachable the future is from Python."""
    release = threading.Event()
    ran = threading.Event()
    future = threaded.submit(release.wait, WAIT)
    future.add_done_callback(lambda f: ran.set())
    del future
    gc.collect()
    release.set()
    assert ran.wait(WAIT)


@pytest.mark.parametrize("how", ["shutdown_now", "close"])
def test_a_shutdown_that_drops_tasks_still_runs_done_callbacks(how: str) -> None:
    """The futures of the timers a shutdown cancels still call their done callbacks (and so
    an await on them returns)."""
    lp = nioxide.EventLoop.spawn() if how == "shutdown_now" else nioxide.EventLoop()
    heard: list[bool] = []
    future = lp.schedule(60, lambda: None)
    future.add_done_callback(lambda f: heard.append(f.cancelled()))
    getattr(lp, how)()
    assert lp.await_termination(WAIT)
    assert future.cancelled() and heard == [True]


def test_a_long_chain_of_done_callbacks_on_a_terminated_loop_completes() -> None:
    """A terminated loop's futures run done callbacks on the completing thread; a callback
    that completes the next future nests them only a few deep, so any length completes."""
    lp = nioxide.EventLoop()
    lp.close()
    futures: list[nioxide.Future[int]] = [nioxide.Future(lp) for _ in range(5000)]
    handler = Handler()
    lp.set_exception_handler(handler)
    for this, following in zip(futures, futures[1:]):
        this.add_done_callback(lambda _, following=following: following.set_result(1))
    futures[0].set_result(1)
    assert futures[-1].done()
    assert handler.contexts == []

# --- a concurrent.futures.Future ------------------------------------------------------------


def test_every_future_is_a_concurrent_futures_future(loop: nioxide.EventLoop) -> None:
    class Mine(nioxide.Future[int]):
        pass

    futures = [
        loop.submit(lambda: 1),
        loop.schedule(0, lambda: 2),
        loop.create_promise(),
        nioxide.Future(loop),
        Mine(loop),
    ]
    for future in futures:
        assert isinstance(future, concurrent.futures.Future) and isinstance(future, nioxide.Future)
    assert type(futures[0]) is nioxide.Future and type(futures[1]) is nioxide.ScheduledFuture
    with pytest.raises(TypeError):
        nioxide.ScheduledFuture(loop)  # only schedule*() makes them
    with pytest.raises(TypeError):
        nioxide.Future("not a loop")  # type: ignore[arg-type]
    loop.run()


def test_concurrent_futures_wait_and_as_completed(threaded: nioxide.EventLoop) -> None:
    def fail_when(gate: threading.Event) -> None:
        gate.wait(WAIT)
        raise LookupError("failed")

    first, second, gate = threaded.create_promise(), threaded.create_promise(), threading.Event()
    failed = threaded.submit(fail_when, gate)
    futures = [first, second, failed]
    start = time.monotonic()
    completer = background(lambda: first.set_result("first"), delay=0.05)
    waited = concurrent.futures.wait(futures, WAIT, concurrent.futures.FIRST_COMPLETED)
    assert waited.done == {first} and waited.not_done == {second, failed}
    completer.done()
    completer = background(gate.set, delay=0.05)  # the task completes its future
    waited = concurrent.futures.wait(futures, WAIT, concurrent.futures.FIRST_EXCEPTION)
    assert waited.done == {first, failed} and waited.not_done == {second}
    completer.done()
    completer = background(lambda: second.set_result("second"), delay=0.05)
    waited = concurrent.futures.wait(futures, WAIT)
    assert waited.done == set(futures) and not waited.not_done
    assert time.monotonic() - start < WAIT
    completer.done()

    # Each completion is made after the one before came out of as_completed().
    release = threading.Event()
    by_task = threaded.submit(release.wait, WAIT)
    cancelled, later = threaded.create_promise(), threaded.create_promise()
    next_steps = [cancelled.cancel, lambda: later.set_result("later")]
    completer = background(release.set, delay=0.05)
    order = []
    for future in concurrent.futures.as_completed([later, by_task, cancelled], WAIT):
        order.append(future)
        if next_steps:
            next_steps.pop(0)()
    completer.done()
    assert order == [by_task, cancelled, later]
    assert [f.cancelled() for f in order] == [False, True, False]


@pytest.mark.parametrize("how", ["set_result", "set_exception", "cancel", "task", "shutdown"])
def test_a_blocked_concurrent_futures_wait_wakes_up(how: str) -> None:
    lp = nioxide.EventLoop.spawn()
    if how == "task":
        future = lp.schedule(0.1, lambda: "ran")
    elif how == "shutdown":
        future = lp.schedule(60, lambda: "never")  # cancelled by the shutdown
    else:
        future = lp.create_promise()
    action = {
        "set_result": lambda: future.set_result(1),
        "set_exception": lambda: future.set_exception(ValueError),
        "cancel": future.cancel,
        "task": lambda: None,
        "shutdown": lp.shutdown_now,
    }[how]
    completer = background(action, delay=0.1)
    start = time.monotonic()
    done, not_done = concurrent.futures.wait([future], WAIT)
    assert done == {future} and not not_done and time.monotonic() - start < WAIT
    assert future.cancelled() == (how in ("cancel", "shutdown"))
    completer.done()
    lp.shutdown_now()
    assert lp.await_termination(WAIT)


def test_a_future_its_task_completed_counts_as_done_before_the_loop_turns(
    loop: nioxide.EventLoop,
) -> None:
    """The done callback that tells concurrent.futures' waiters runs on a later turn; a wait
    that looks meanwhile sees the future done all the same, and is told of it once."""
    ran = loop.submit(lambda: "ran")
    assert concurrent.futures.wait([ran], 0).not_done == {ran}  # looked at while pending
    loop.run(nioxide.RUN_NOWAIT)  # runs the task; its done callbacks wait for the next turn
    assert ran.done()
    promise = loop.create_promise()
    completer = background(lambda: promise.set_result("set"), delay=0.1)
    order = list(concurrent.futures.as_completed([promise, ran], WAIT))
    assert order == [ran, promise], "each future once, in completion order"
    completer.done()
    loop.run()  # the late done callback finds the future settled: it tells nobody again
    assert concurrent.futures.wait([ran, promise], 0).done == {ran, promise}


def test_running_and_set_running_or_notify_cancel(loop: nioxide.EventLoop) -> None:
    box: list[nioxide.Future[bool]] = []
    task = loop.submit(lambda: (box[0].running(), box[0].cancel()))
    box.append(task)
    assert not task.running()
    with pytest.raises(nioxide.InvalidArgumentError):
        task.set_running_or_notify_cancel()  # its task marks it
    loop.run()
    assert task.result() == (True, False), "running inside its task, and no longer cancellable"
    assert not task.running()

    promise = loop.create_promise()
    assert promise.set_running_or_notify_cancel() is True
    assert promise.running() and not promise.cancel() and not promise.done()
    with pytest.raises(RuntimeError):
        promise.set_running_or_notify_cancel()
    promise.set_result(1)
    assert not promise.running()
    with pytest.raises(nioxide.InvalidStateError):
        promise.set_running_or_notify_cancel()
    cancelled = loop.create_promise()
    cancelled.cancel()
    assert cancelled.set_running_or_notify_cancel() is False
    assert concurrent.futures.wait([cancelled], 0).done == {cancelled}
