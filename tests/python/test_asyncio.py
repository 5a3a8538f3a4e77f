"""asyncio both ways (issue 4, section 5): nioxide futures awaited in coroutines, and a
caller-driven nioxide loop driven by a running asyncio loop through its backend descriptor,
with no extra thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest
from conftest import os_threads, settled_os_threads
from support import WAIT, background

import nioxide
from nioxide import OP_READ


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, WAIT))


# --- awaiting nioxide futures --------------------------------------------------------------


def test_await_a_future_without_blocking_the_asyncio_loop(threaded: nioxide.EventLoop) -> None:
    async def main() -> tuple[Any, int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        promise = threaded.create_promise()
        completer = background(lambda: promise.set_result("from another thread"), delay=0.2)
        result = await promise
        completer.done()
        tick_task.cancel()
        return result, ticks, threading.get_ident()

    result, ticks, thread = run(main())
    assert result == "from another thread"
    assert ticks >= 5, "the asyncio loop kept running while the future was pending"
    assert thread == threading.get_ident(), "the result is delivered on the asyncio thread"


def test_await_results_exceptions_and_cancellation(threaded: nioxide.EventLoop) -> None:
    def fail() -> None:
        raise ValueError("raised on the loop")

    async def main() -> None:
        assert await threaded.submit(pow, 2, 10) == 1024
        assert await threaded.schedule(0.01, lambda: "timer") == "timer"
        with pytest.raises(ValueError, match="raised on the loop"):
            await threaded.submit(fail)
        cancelled = threaded.create_promise()
        cancelled.cancel()
        with pytest.raises(nioxide.CancelledError):
            await cancelled
        results = await asyncio.gather(*(threaded.submit(abs, -i) for i in range(200)))
        assert results == list(range(200))

    run(main())


def test_asyncio_wrap_future(threaded: nioxide.EventLoop) -> None:
    """A nioxide future is a concurrent.futures.Future: asyncio.wrap_future takes it, and
    cancels go both ways."""

    def fail() -> None:
        raise ValueError("raised on the loop")

    async def main() -> None:
        assert await asyncio.wrap_future(threaded.submit(pow, 2, 10)) == 1024
        with pytest.raises(ValueError, match="raised on the loop"):
            await asyncio.wrap_future(threaded.submit(fail))
        promise = threaded.create_promise()
        background(lambda: promise.set_result("set"), delay=0.05)
        assert await asyncio.wrap_future(promise) == "set"

        cancelled_here = threaded.create_promise()
        wrapped = asyncio.wrap_future(cancelled_here)
        wrapped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await wrapped
        await asyncio.sleep(0)  # the asyncio future's done callbacks run
        assert cancelled_here.cancelled(), "cancelling the asyncio future cancels the source"
        cancelled_there = threaded.create_promise()
        wrapped = asyncio.wrap_future(cancelled_there)
        cancelled_there.cancel()
        with pytest.raises(asyncio.CancelledError):
            await wrapped

    run(main())


def test_await_returns_when_a_shutdown_cancels_the_timer() -> None:
    lp = nioxide.EventLoop.spawn()

    async def main() -> None:
        future = lp.schedule(60, lambda: None)
        asyncio.get_running_loop().call_later(0.05, lp.shutdown_now)
        with pytest.raises(nioxide.CancelledError):
            await asyncio.wait_for(future, WAIT)

    run(main())
    assert lp.await_termination(WAIT)


def test_cancelling_the_awaiting_task_cancels_the_future(threaded: nioxide.EventLoop) -> None:
    promise = threaded.create_promise()

    async def wait_for_it() -> Any:
        return await promise

    async def main() -> None:
        waiter = asyncio.create_task(wait_for_it())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    run(main())
    assert promise.cancelled()


# --- a nioxide loop driven by asyncio -------------------------------------------------------


def test_asyncio_drives_a_caller_driven_loop_with_no_extra_thread() -> None:
    threads = os_threads()
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main() -> list[str]:
        seen: list[str] = []
        with nioxide.EventLoop() as loop, nioxide.asyncio_bridge(loop) as bridge:
            assert bridge.loop is loop and not bridge.is_closed()
            # Tasks queued from the loop's own thread (this one): no other wake-up than the
            # backend descriptor, which such a task makes readable.
            done = asyncio.get_running_loop().create_future()
            loop.execute(seen.append, "task from the asyncio thread")
            loop.execute(done.set_result, None)
            await done
            # Futures of the bridged loop.
            assert await loop.submit(sum, [1, 2, 3]) == 6
            # Timers: call_later for the loop's next deadline.
            start = time.monotonic()
            assert await loop.schedule(0.05, lambda: "timer") == "timer"
            assert time.monotonic() - start >= 0.05
            # Tasks from other threads.
            other = loop.create_promise()
            background(lambda: loop.execute(other.set_result, "other thread")).done()
            assert await other == "other thread"
            # Readiness watches.
            readable = loop.create_promise()

            def on_readable(watch: nioxide.Watch, ops: int) -> None:
                watch.close()
                readable.set_result(a.recv(10))

            loop.watch(a, nioxide.OP_READ, on_readable)
            b.send(b"ping")
            assert await readable == b"ping"
            assert settled_os_threads(threads) == threads, "no extra thread"
        assert bridge.is_closed()
        return seen

    try:
        assert run(main()) == ["task from the asyncio thread"]
    finally:
        a.close()
        b.close()


def test_the_bridge_serves_a_raw_descriptor_a_callback_leaves_unread() -> None:
    """epoll reports the rest only once the descriptor is re-armed: the bridge must not wait
    for the backend descriptor meanwhile."""
    lp = nioxide.EventLoop()
    a, b = socket.socketpair()
    got: list[bytes] = []

    def one_byte(watch: nioxide.Watch, ops: int) -> None:
        got.append(a.recv(1))

    async def main() -> None:
        with nioxide.asyncio_bridge(lp):
            watch = lp.watch(a.fileno(), OP_READ, one_byte)
            b.send(b"abc")
            deadline = time.monotonic() + WAIT
            while len(got) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            watch.close()

    try:
        run(main())
        assert got == [b"a", b"b", b"c"]
    finally:
        a.close()
        b.close()
        lp.close()


def test_the_bridge_detaches_quietly_from_a_loop_closed_by_asyncio_code() -> None:
    lp = nioxide.EventLoop()
    errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: errors.append(ctx))
        bridge = nioxide.asyncio_bridge(lp)
        lp.execute(lambda: None)  # a turn is due
        lp.close()
        await asyncio.sleep(0.05)
        assert bridge.is_closed()

    run(main())
    assert errors == []


def test_a_closed_bridge_no_longer_drives_the_loop() -> None:
    async def main() -> None:
        with nioxide.EventLoop() as loop:
            bridge = nioxide.AsyncioBridge(loop)
            bridge.close()
            bridge.close()
            seen: list[int] = []
            loop.execute(seen.append, 1)
            await asyncio.sleep(0.05)
            assert seen == []
            loop.run()
            assert seen == [1]
            assert "closed" in repr(bridge)

    run(main())


def test_the_bridge_detaches_when_the_loop_terminates() -> None:
    async def main() -> None:
        loop = nioxide.EventLoop()
        bridge = nioxide.asyncio_bridge(loop)
        stopped = loop.create_promise()
        loop.execute(loop.close)
        loop.execute(stopped.set_result, None)
        await asyncio.sleep(0.05)
        assert loop.is_terminated() and bridge.is_closed()

    run(main())


def test_keyboard_interrupt_from_a_bridged_callback_propagates_out_of_asyncio() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt("from a nioxide callback")

    async def main() -> None:
        with nioxide.EventLoop() as loop, nioxide.asyncio_bridge(loop):
            loop.execute(interrupt)
            await asyncio.sleep(WAIT)

    with pytest.raises(KeyboardInterrupt, match="from a nioxide callback"):
        asyncio.run(main())


def test_a_library_driven_loop_cannot_be_bridged(threaded: nioxide.EventLoop) -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            nioxide.asyncio_bridge(threaded)

    run(main())
