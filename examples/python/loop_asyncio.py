"""A nioxide event loop inside a running asyncio loop, with no extra thread.

    python loop_asyncio.py

``nioxide.asyncio_bridge(loop)`` drives a caller-driven nioxide loop from the asyncio loop that
runs this coroutine: it watches the nioxide loop's backend descriptor with ``add_reader``, runs
a ``RUN_NOWAIT`` turn when it is readable, and uses ``call_soon``/``call_later`` for the time
``backend_timeout()`` gives (pending tasks, the next nioxide timer). So nioxide's callbacks
run on the asyncio thread, between asyncio's own callbacks, and a coroutine can ``await`` a
nioxide Future.

The coroutine below awaits a submitted task's Future, a nioxide timer's Future and a promise that
asyncio completes, while a nioxide fixed-rate ticker and an asyncio sleep run side by side.
Exits 0 if every result is right and every nioxide callback ran on this one thread, 1 if not.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import nioxide


async def main() -> bool:
    aio = asyncio.get_running_loop()
    me = threading.get_ident()
    threads: set[int] = set()  # where nioxide's callbacks ran

    def on_nioxide(what: str) -> str:
        threads.add(threading.get_ident())
        print(f"{aio.time() - t0:6.3f} s: nioxide ran {what}")
        return what

    with nioxide.EventLoop() as loop, nioxide.asyncio_bridge(loop):
        t0 = aio.time()

        # 1. A task's Future: the result is delivered here, on the asyncio thread.
        total = await loop.submit(sum, [1, 2, 3])
        threads.add(threading.get_ident())
        print(f"{aio.time() - t0:6.3f} s: awaited loop.submit(sum, [1, 2, 3]) -> {total}")

        # 2. A nioxide ticker and an asyncio sleep, side by side on the same thread.
        ticks = 0

        def tick() -> None:
            nonlocal ticks
            ticks += 1
            on_nioxide(f"tick {ticks}")

        ticker = loop.schedule_at_fixed_rate(0.02, 0.02, tick)
        await asyncio.sleep(0.11)
        ticks_at_cancel = ticks
        print(f"{aio.time() - t0:6.3f} s: asyncio slept 0.11 s; cancelling the ticker: "
              f"{ticker.cancel()}")

        # 3. A nioxide timer's Future.
        fired = await loop.schedule(0.05, on_nioxide, "the timer at 0.05 s")
        print(f"{aio.time() - t0:6.3f} s: awaited loop.schedule(0.05, ...) -> {fired!r}")

        # 4. A nioxide promise completed by an asyncio callback.
        promise = loop.create_promise()
        aio.call_later(0.02, promise.set_result, 42)
        answer = await promise
        print(f"{aio.time() - t0:6.3f} s: awaited a promise asyncio completed -> {answer}")

    ok = (
        total == 6
        and ticks >= 1  # 5 unless the machine stalls (late fixed-rate runs catch up)
        and ticks == ticks_at_cancel  # none after the cancel
        and ticker.cancelled()
        and fired == "the timer at 0.05 s"
        and answer == 42
        and threads == {me}
    )
    print(f"ticks: {ticks}; nioxide callbacks ran on the asyncio thread only: {threads == {me}}")
    return ok


if __name__ == "__main__":
    ok = asyncio.run(main())
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)
