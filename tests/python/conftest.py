"""Fixtures for the nioxide tests: channels on 127.0.0.1 with OS-chosen ports, closed after
each test, and checks that a test leaves no descriptor or thread behind.

The tests import the installed wheel (`pip install ./python`), never the source tree.
"""

from __future__ import annotations

import gc
import os
import pathlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nioxide

REPO = pathlib.Path(__file__).resolve().parents[2]

def pytest_configure(config: pytest.Config) -> None:
    # An object nioxide frees unclosed warns (as a socket does): the tests close what they
    # open, and those that abandon objects on purpose expect the warning. Raised while an
    # object is freed, the error is reported as unraisable: that fails the test too.
    config.addinivalue_line("filterwarnings", "error::ResourceWarning")
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")


def pytest_sessionstart(session: pytest.Session) -> None:
    installed = pathlib.Path(nioxide.__file__).resolve()
    if REPO / "python" in installed.parents:
        raise pytest.UsageError(f"nioxide was imported from the source tree ({installed}), not the wheel")


def _sockets() -> set[tuple[str, str]]:
    """Open socket descriptors. (A selector's epoll descriptor stays open until the
    `Selector` object is gone, even after `close()`, and pytest keeps the fixtures' objects
    until the end of the test run's own teardown: `test_selector` checks those apart.)"""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            continue  # the listing's own descriptor
        if target.startswith("socket:"):
            found.add((fd, target))
    return found


def _python_threads() -> int:
    """Python's threads, without the records CPython 3.11 keeps forever for foreign threads
    (nioxide's loop threads) that called `threading.current_thread()` (`logging` does)."""
    return sum(1 for t in threading.enumerate() if not isinstance(t, threading._DummyThread))


def os_threads() -> int:
    """The process's threads as the kernel sees them (nioxide's loop threads included)."""
    return len(os.listdir("/proc/self/task"))


def settled_os_threads(expected: int, wait: float = 2.0) -> int:
    """The thread count once it is back to `expected` (a joined thread may take a moment to
    leave the kernel's list), or after `wait` seconds."""
    deadline = time.monotonic() + wait
    while (count := os_threads()) > expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return count


@pytest.fixture(autouse=True)
def leaves_nothing_behind() -> Iterator[None]:
    """Each test closes the sockets it opens and joins the threads it starts (Python's, and
    the loop threads nioxide starts)."""
    gc.collect()
    fds, threads, tasks = _sockets(), _python_threads(), os_threads()
    yield
    gc.collect()
    leaked = _sockets() - fds
    assert not leaked, f"sockets left open: {sorted(leaked)}"
    assert _python_threads() == threads, "threads left running"
    assert settled_os_threads(tasks) == tasks, "threads left running (/proc/self/task)"


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """`closing(obj)` returns `obj` and closes it when the test ends."""
    objects: list[Any] = []

    def track(obj: Any) -> Any:
        objects.append(obj)
        return obj

    yield track
    for obj in reversed(objects):
        obj.close()


@pytest.fixture
def selector(closing: Callable[[Any], Any]) -> nioxide.Selector:
    return closing(nioxide.Selector())


@pytest.fixture
def server(closing: Callable[[Any], Any]) -> nioxide.ServerSocketChannel:
    """A blocking listener on 127.0.0.1 with an OS-chosen port."""
    server = closing(nioxide.ServerSocketChannel())
    server.bind(("127.0.0.1", 0))
    return server


@pytest.fixture
def pair(
    server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]
) -> tuple[nioxide.SocketChannel, nioxide.SocketChannel]:
    """A connected (client, accepted) pair, both in blocking mode."""
    client = closing(nioxide.SocketChannel())
    assert client.connect(server.local_address) is True
    accepted = closing(server.accept())
    return client, accepted


@pytest.fixture
def loop() -> Iterator[nioxide.EventLoop]:
    """A caller-driven event loop, closed after the test."""
    lp = nioxide.EventLoop()
    yield lp
    lp.close()


@pytest.fixture
def threaded() -> Iterator[nioxide.EventLoop]:
    """A library-driven event loop, shut down and joined after the test."""
    lp = nioxide.EventLoop.spawn()
    yield lp
    lp.shutdown_now()
    assert lp.await_termination(5.0)


@pytest.fixture
def sigint_handler() -> Iterator[None]:
    """Python's default SIGINT handler (KeyboardInterrupt) for the test, restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def pipeline_objects_released() -> Iterator[None]:
    """The test releases the pipeline objects it made: buffers, channels and contexts
    (counted by nioxide.live_objects(), once its objects are collected)."""
    gc.collect()
    before = nioxide.live_objects()
    yield
    gc.collect()
    after = nioxide.live_objects()
    for name in ("Buffer", "Channel", "ChannelHandlerContext"):
        assert after.get(name, 0) <= before.get(name, 0), f"{name} objects left: {after}"
