"""Helpers for the codec tests: a handler that collects what reaches it, and the failure of
a write."""

from __future__ import annotations

from typing import Any

import nioxide


class Collect(nioxide.ChannelInboundHandler):
    """Keeps what reaches it: messages (a Buffer as bytes, others as they are) and
    exceptions, in order."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def channel_read(self, ctx: Any, msg: Any) -> None:
        self.seen.append(bytes(msg) if isinstance(msg, nioxide.Buffer) else msg)

    def exception_caught(self, ctx: Any, cause: BaseException) -> None:
        self.seen.append(cause)

    def take(self) -> list[Any]:
        """What came since the last call."""
        seen, self.seen = self.seen, []
        return seen


def kinds(seen: list[Any]) -> list[Any]:
    """Messages as they are, exceptions as their class."""
    return [type(x) if isinstance(x, BaseException) else x for x in seen]


def write_failure(ch: nioxide.EmbeddedChannel, msg: Any) -> BaseException | None:
    """The exception a write of `msg` failed with (its future's)."""
    promise = ch.channel.new_promise()
    ch.channel.write_and_flush(msg, promise)
    ch.run_pending_tasks()
    return promise.exception(timeout=0)
