"""Timers on a nioxide event loop driven by the caller (examples/c/loop-timer.c in Python).

    python loop_timer.py

Schedules, on one loop: a one-shot timer at 0.05 s, a fixed-rate ticker every 0.02 s, a timer at
0.03 s that is cancelled at once (so it never fires), and a "stopper" at 0.11 s that cancels the
ticker; then runs the loop with ``RUN_DEFAULT``, which returns once nothing referenced is left.
Every callback runs on this thread, inside ``run()``. Prints what fires and when (the loop's
clock), checks that nothing fired early and that the ticker ticked exactly 5 times (timers fire
in deadline order, so the stopper comes after the tick at 0.10 s even on a late loop), and exits
0 if so, 1 if not.
"""

from __future__ import annotations

import sys

import nioxide


def main() -> int:
    with nioxide.EventLoop() as loop:
        start = loop.now()
        fired: list[str] = []
        early: list[str] = []

        def note(what: str, due: float) -> None:
            at = loop.now() - start
            print(f"{at * 1000:6.1f} ms: {what} (due at {due * 1000:.0f} ms)")
            fired.append(what)
            if at < due:
                early.append(what)

        ticks = 0

        def tick() -> None:
            nonlocal ticks
            ticks += 1
            note(f"tick {ticks}", 0.02 * ticks)

        def stop_ticker() -> None:
            note("stopper: cancelling the ticker", 0.11)
            assert ticker.cancel(), "the ticker was not cancelled"

        one_shot = loop.schedule(0.05, note, "one-shot timer", 0.05)
        ticker = loop.schedule_at_fixed_rate(0.02, 0.02, tick)
        stopper = loop.schedule(0.11, stop_ticker)
        doomed = loop.schedule(0.03, note, "the cancelled timer (it should never fire)", 0.03)
        print("   0.0 ms: scheduled a one-shot at 50 ms, a ticker every 20 ms, a stopper at "
              "110 ms and a timer at 30 ms")
        print(f"   0.0 ms: cancelled the timer at 30 ms before it fired: {doomed.cancel()}")

        left = loop.run()  # RUN_DEFAULT: until nothing referenced is left
        print(f"{(loop.now() - start) * 1000:6.1f} ms: run() returned {left}: nothing "
              "referenced is left")

        ok = (
            ticks == 5
            and fired.count("one-shot timer") == 1
            and not early
            and not left
            and one_shot.done()
            and one_shot.result() is None
            and stopper.done()
            and ticker.cancelled()
            and doomed.cancelled()
            and not any("cancelled timer" in what for what in fired)
        )
        print(f"ticks: {ticks}, early: {early}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
