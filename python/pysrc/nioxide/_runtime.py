"""The Python half of nioxide's runtime: the default exception handler, ``await`` on a
:class:`~nioxide.Future`, and :class:`AsyncioBridge`, which drives a nioxide loop from a
running asyncio loop.

Import these from :mod:`nioxide`; the extension module calls the private ones. asyncio and
logging are imported on first use: ``import nioxide`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from nioxide._nioxide import RUN_NOWAIT, EventLoop, FutureBase

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncioBridge", "asyncio_bridge"]

_T = TypeVar("_T")


def default_exception_handler(context: dict[str, Any]) -> None:
    """Logs an exception handler's ``context`` to the ``"nioxide"`` logger at ERROR level,
    with the exception's traceback, as asyncio's default handler does."""
    import logging

    message = context.get("message") or "Unhandled exception in event loop"
    exception = context.get("exception")
    exc_info: Any = False
    if isinstance(exception, BaseException):
        exc_info = (type(exception), exception, exception.__traceback__)
    lines = [str(message)]
    for key in sorted(context):
        if key not in {"message", "exception"}:
            lines.append(f"{key}: {context[key]!r}")
    logging.getLogger("nioxide").error("\n".join(lines), exc_info=exc_info)


def await_future(future: FutureBase[_T]) -> Generator[Any, None, _T]:
    """``Future.__await__``: waits on the running asyncio loop for ``future`` without
    blocking it or polling. A done callback, which runs on the future's nioxide loop, wakes an
    asyncio future through ``call_soon_threadsafe``, so the result is delivered on the asyncio
    loop's thread. Cancelling the awaiting task cancels ``future``."""
    import asyncio

    if not future.done():
        aio_loop = asyncio.get_running_loop()
        waiter = aio_loop.create_future()

        def on_done(_: FutureBase[_T]) -> None:
            try:
                aio_loop.call_soon_threadsafe(_wake, waiter)
            except RuntimeError:
                pass  # the asyncio loop is closed: nobody waits any more

        future.add_done_callback(on_done)
        try:
            yield from waiter
        except asyncio.CancelledError:
            future.cancel()
            raise
    return future.result()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AsyncioBridge:
    """Drives a caller-driven nioxide :class:`~nioxide.EventLoop` from a running asyncio loop,
    on the asyncio loop's thread, with no extra thread (libuv's embedding through the backend
    descriptor):

    - the loop's :meth:`~nioxide.EventLoop.backend_fd` is watched with
      ``aio_loop.add_reader``: I/O, and tasks queued from any thread (including this one),
      make it readable, and a ``RUN_NOWAIT`` turn runs;
    - after each turn, :meth:`~nioxide.EventLoop.backend_timeout` says when the next turn is
      due: ``0`` (work is pending) schedules one with ``call_soon``, a delay with
      ``call_later`` (the next timer), ``None`` waits for the descriptor alone.

    A ``BaseException`` a nioxide callback raises (``KeyboardInterrupt``) propagates out of the
    asyncio loop, as one raised by an asyncio callback does. :meth:`close` (or leaving the
    ``with`` block) detaches the loop; it is also detached once the loop terminates. The
    bridge does not close the nioxide loop.
    """

    def __init__(
        self, loop: EventLoop, aio_loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        import asyncio

        if loop.is_library_driven():
            raise ValueError("a library-driven loop runs on its own thread; bridge a caller-driven one")
        self._loop = loop
        self._aio = aio_loop if aio_loop is not None else asyncio.get_running_loop()
        self._fd = loop.backend_fd()
        self._handle: asyncio.Handle | None = None
        self._closed = False
        self._aio.add_reader(self._fd, self._turn)
        # Detach before the loop's close releases the descriptor asyncio watches.
        loop._set_close_hook(self.close)
        self._rearm()

    @property
    def loop(self) -> EventLoop:
        """The nioxide loop this bridge drives."""
        return self._loop

    def is_closed(self) -> bool:
        """Whether the bridge has been detached."""
        return self._closed

    def _turn(self) -> None:
        if self._closed:
            return
        self._handle = None
        if self._loop.is_terminated():  # closed by asyncio code since the last turn
            self.close()
            return
        try:
            self._loop.run(RUN_NOWAIT)
        finally:
            if not self._closed:
                self._rearm()

    def _rearm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._loop.is_terminated():
            self.close()
            return
        timeout = self._loop.backend_timeout()
        if timeout is None:
            return
        if timeout <= 0:
            self._handle = self._aio.call_soon(self._turn)
        else:
            self._handle = self._aio.call_later(timeout, self._turn)

    def close(self) -> None:
        """Detaches the nioxide loop from the asyncio loop (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._loop._set_close_hook(None)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._aio.remove_reader(self._fd)

    def __enter__(self) -> AsyncioBridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "attached"
        return f"<nioxide.AsyncioBridge {state} {self._loop!r}>"


def asyncio_bridge(
    loop: EventLoop, aio_loop: asyncio.AbstractEventLoop | None = None
) -> AsyncioBridge:
    """Drives the caller-driven ``loop`` from ``aio_loop`` (default: the running asyncio
    loop) until the returned bridge is closed; see :class:`AsyncioBridge`.

    >>> import asyncio, nioxide
    >>> async def main():
    ...     with nioxide.EventLoop() as loop, nioxide.asyncio_bridge(loop):
    ...         return await loop.submit(sum, [1, 2, 3])
    >>> asyncio.run(main())
    6
    """
    return AsyncioBridge(loop, aio_loop)
