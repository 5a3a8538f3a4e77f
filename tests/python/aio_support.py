"""Helpers for the AIO tests: a handler that records what it was called with, and a
connected pair of asynchronous channels."""

from __future__ import annotations

import threading
from typing import Any

import nioxide
from support import WAIT


class Recorder:
    """A completion handler that records each call as ``("completed", result, attachment)``
    or ``("failed", exc, attachment)``, and the thread it ran on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.threads: list[str] = []
        self.event = threading.Event()

    def completed(self, result: Any, attachment: Any) -> None:
        self.calls.append(("completed", result, attachment))
        self.threads.append(threading.current_thread().name)
        self.event.set()

    def failed(self, exc: BaseException, attachment: Any) -> None:
        self.calls.append(("failed", exc, attachment))
        self.threads.append(threading.current_thread().name)
        self.event.set()

    def wait(self) -> tuple[str, Any, Any]:
        """The first call, once it came."""
        assert self.event.wait(WAIT), "the handler was not called"
        return self.calls[0]


def connected_pair(
    group: nioxide.AsynchronousChannelGroup,
) -> tuple[
    nioxide.AsynchronousServerSocketChannel,
    nioxide.AsynchronousSocketChannel,
    nioxide.AsynchronousSocketChannel,
]:
    """A listener on 127.0.0.1 and a (client, accepted) pair of connected channels."""
    server = nioxide.AsynchronousServerSocketChannel.open(group)
    server.bind(("127.0.0.1", 0))
    accepted = server.accept()
    client = nioxide.AsynchronousSocketChannel.open(group)
    client.connect(server.local_address).result(WAIT)
    return server, client, accepted.result(WAIT)
