"""Helpers for the nioxide tests: delayed actions in threads, SIGINT to the main thread."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

#: Upper bound for every wait in the tests; nothing normally comes near it.
WAIT = 5.0


class Background(threading.Thread):
    """Runs `action` in a thread, after `delay` seconds; `done()` joins it and returns what
    `action` returned or raises what it raised."""

    def __init__(self, action: Callable[[], Any], delay: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.action, self.delay = action, delay
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        time.sleep(self.delay)
        try:
            self.result = self.action()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            self.error = e

    def done(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "background thread still running"
        if self.error is not None:
            raise self.error
        return self.result


def background(action: Callable[[], Any], delay: float = 0.0) -> Background:
    """Starts `action` in a thread (after `delay` seconds)."""
    thread = Background(action, delay)
    thread.start()
    return thread


def interrupt_main(delay: float, how: str) -> Background:
    """Sends SIGINT after `delay` seconds: `"main"` to the main thread alone (its wait sees
    EINTR), `"process"` to the process (the kernel picks a thread)."""
    main = threading.main_thread().ident
    assert main is not None

    def fire() -> None:
        if how == "main":
            signal.pthread_kill(main, signal.SIGINT)
        else:
            os.kill(os.getpid(), signal.SIGINT)

    return background(fire, delay)


class Handler:
    """An event loop exception handler that records what it gets: `handler.wait(n)` waits
    until `n` contexts have come (from any thread) and returns them all."""

    def __init__(self) -> None:
        self.loops: list[Any] = []
        self.contexts: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def __call__(self, loop: Any, context: dict[str, Any]) -> None:
        with self._changed:
            self.loops.append(loop)
            self.contexts.append(context)
            self._changed.notify_all()

    def wait(self, n: int = 1) -> list[dict[str, Any]]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.contexts) >= n, WAIT), "not reported"
            return list(self.contexts)


def blocked_in(thread: threading.Thread) -> bool:
    """Whether `thread` is still running after a moment: it is blocked, not finished."""
    thread.join(0.2)
    return thread.is_alive()
