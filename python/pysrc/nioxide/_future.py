"""``nioxide.Future`` and ``nioxide.ScheduledFuture``: the extension's future (core's promise,
``FutureBase``) that is also a :class:`concurrent.futures.Future`, so ``asyncio.wrap_future``,
``concurrent.futures.wait`` and ``concurrent.futures.as_completed`` take it.

nioxide's own methods come first in the method order: they read and complete core's promise.
What the standard library's functions read directly is kept in step with the promise here:
``_condition`` (made on first use), ``_waiters`` (the waiters ``wait()`` and ``as_completed()``
install) and ``_state``. ``_state`` looks at the promise; the first look that finds it complete
*settles* the future: under ``_condition`` it tells the waiters installed so far, once, as
``concurrent.futures.Future.set_result`` does. A completion is settled at once when it comes
from Python (``set_result``, ``set_exception``, ``cancel``) and otherwise (a task's result, a
cancel by a shutdown) by a done callback that ``_state`` adds once a waiter may be
installed, so on the loop's thread on a later turn, like every done callback.

Import these from :mod:`nioxide`; the extension module makes its futures from these classes.
"""

from __future__ import annotations

import concurrent.futures
import threading
from concurrent.futures import _base
from typing import TYPE_CHECKING, Any, TypeVar, final

from nioxide._nioxide import FutureBase, ScheduledFutureBase

__all__ = ["CLOSE", "CLOSE_ON_FAILURE", "ChannelFuture", "Future", "ScheduledFuture"]

_T = TypeVar("_T")

# The key of a future's `_Sync` in its __dict__.
_SYNC = "_nioxide_sync"


class _Sync:
    """What ``concurrent.futures`` needs besides the promise: the lock its functions take,
    their waiters, and the state the waiters were told of (``None`` until settled)."""

    __slots__ = ("armed", "condition", "settled", "waiters")

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.waiters: list[Any] = []
        self.settled: str | None = None
        self.armed = False


class Future(FutureBase[_T], concurrent.futures.Future[_T]):
    """The result of an operation that completes later (Netty's ``Promise``), with
    :class:`concurrent.futures.Future`'s names, awaitable from asyncio; it *is* a
    :class:`concurrent.futures.Future`, so ``concurrent.futures.wait``, ``as_completed`` and
    ``asyncio.wrap_future`` take it.

    It completes exactly once: with a result, an exception, or by :meth:`cancel`. Done
    callbacks run on the future's loop on a later turn, in the order they were added, also
    when added after completion. :meth:`result` and :meth:`exception` wait with the GIL
    released (Ctrl-C interrupts them); waiting on the loop's own thread for a future that is
    not done raises :class:`DeadlockError` instead of hanging. ``await future`` inside a
    coroutine waits without blocking the asyncio loop and delivers the result on its thread.
    :meth:`running` is true while a task runs (then it can no longer be cancelled).

    ``Future(loop)`` (or :meth:`EventLoop.create_promise`) makes a future for the caller to
    complete with :meth:`set_result` or :meth:`set_exception` (or, as an executor does,
    :meth:`set_running_or_notify_cancel` first); the future of a task is completed by its task.

    ``concurrent.futures.wait()`` and ``as_completed()`` see a completion by
    :meth:`set_result`, :meth:`set_exception` or :meth:`cancel` at once; one by a task of the
    loop (or a shutdown's cancel) when a done callback would: on the loop's thread, on a later
    turn (so a caller-driven loop must be run for it). A future that was done when they looked
    is counted as done at once.

    >>> import concurrent.futures, nioxide
    >>> with nioxide.EventLoop.spawn() as loop:
    ...     futures = [loop.submit(divmod, 7, n) for n in (1, 2)]
    ...     done, pending = concurrent.futures.wait(futures, timeout=5)
    ...     [f.result() for f in futures], len(done), len(pending)
    ([(7, 0), (3, 1)], 2, 0)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``__new__`` takes the loop; further arguments are left to a subclass's
        ``__init__``. (``concurrent.futures.Future.__init__`` is not called: the future's
        state is core's promise.)"""

    def _sync(self) -> _Sync:
        sync: _Sync | None = self.__dict__.get(_SYNC)
        if sync is None:
            # setdefault is atomic: two threads that race here get the same object.
            sync = self.__dict__.setdefault(_SYNC, _Sync())
        return sync

    # Type checkers see concurrent.futures.Future's plain attributes (its functions type them
    # as such); these properties stand in for them at run time.
    if not TYPE_CHECKING:

        @property
        def _condition(self) -> threading.Condition:
            """The lock ``concurrent.futures.wait()`` and ``as_completed()`` hold while they
            look at ``_state`` and install their waiters."""
            return self._sync().condition

        @property
        def _waiters(self) -> list[Any]:
            """The waiters of ``concurrent.futures.wait()`` and ``as_completed()``."""
            return self._sync().waiters

        @property
        def _state(self) -> str:
            """The promise's state in ``concurrent.futures``' terms: ``PENDING``, ``RUNNING``,
            ``FINISHED`` or ``CANCELLED_AND_NOTIFIED`` (a cancel is final at once). A pending
            future gets the done callback that settles it, once; a complete one is settled
            now."""
            sync = self._sync()
            with sync.condition:
                if sync.settled is None:
                    if self.done():
                        self._settle()
                    else:
                        if not sync.armed:
                            sync.armed = True
                            self.add_done_callback(_settle_waiters)
                        # Settled already if the callback ran inside the call (the loop is
                        # gone); else the waiters installed under this lock are told later.
                        if sync.settled is None:
                            return _base.RUNNING if self.running() else _base.PENDING
                assert sync.settled is not None
                return sync.settled

    def _settle(self) -> None:
        """Tells the waiters installed so far that the promise completed, once (under
        ``_condition``, as ``concurrent.futures.Future.set_result`` does). Nothing to do while
        it is pending, or if ``concurrent.futures`` never looked at it."""
        sync: _Sync | None = self.__dict__.get(_SYNC)
        if sync is None:
            return
        with sync.condition:
            if sync.settled is not None or not self.done():
                return
            if self.cancelled():
                sync.settled = _base.CANCELLED_AND_NOTIFIED
                for waiter in sync.waiters:
                    waiter.add_cancelled(self)
            elif self.exception() is not None:
                sync.settled = _base.FINISHED
                for waiter in sync.waiters:
                    waiter.add_exception(self)
            else:
                sync.settled = _base.FINISHED
                for waiter in sync.waiters:
                    waiter.add_result(self)
            sync.condition.notify_all()

    def set_result(self, result: _T) -> None:
        """Completes the future with ``result``. Raises :class:`InvalidStateError` if it is
        already done, :class:`InvalidArgumentError` for the future of a submitted or
        scheduled task (its task completes it)."""
        super().set_result(result)
        self._settle()

    def set_exception(  # type: ignore[override]
        self, exception: BaseException | type[BaseException]
    ) -> None:
        """Completes the future with ``exception`` (a class is instantiated). Raises
        :class:`InvalidStateError` if it is already done, ``TypeError`` for a non-exception,
        :class:`InvalidArgumentError` for the future of a submitted or scheduled task."""
        super().set_exception(exception)
        self._settle()

    def cancel(self) -> bool:
        """Cancels the future unless it completed or its operation started (a task that is
        running, a timer that fired); returns whether it is cancelled now. A cancelled task or
        timer never runs."""
        cancelled = super().cancel()
        self._settle()
        return cancelled


def _settle_waiters(future: Future[Any]) -> None:
    """The done callback that settles a future for ``concurrent.futures``."""
    future._settle()


@final
class ScheduledFuture(ScheduledFutureBase[_T], Future[_T]):
    """The :class:`Future` of a scheduled task (``EventLoop.schedule*``), with libuv's
    ref/unref for its timer."""


class ChannelFuture(Future[_T]):
    """The :class:`Future` of a channel's operation (Netty's ``ChannelFuture``): a bind, a
    connect, a close, a write given a promise, or the channel's close future;
    :attr:`channel` is the channel. :data:`nioxide.CLOSE` and
    :data:`nioxide.CLOSE_ON_FAILURE` are listeners that close it when the future completes
    (always, or only if it failed); core does that without calling Python.

    >>> import nioxide
    >>> class Echo(nioxide.ChannelInboundHandler):
    ...     def channel_read(self, ctx, msg):
    ...         ctx.write_and_flush(msg)
    >>> ch = nioxide.EmbeddedChannel(Echo())
    >>> promise = ch.channel.new_promise()
    >>> ch.channel.write_and_flush(b"hi", promise) is promise
    True
    >>> ch.run_pending_tasks(); promise.done(), bytes(ch.read_outbound())
    (True, b'hi')
    >>> promise.add_done_callback(nioxide.CLOSE); ch.run_pending_tasks()
    >>> ch.channel.is_open()
    False
    """

    if TYPE_CHECKING:
        from nioxide._nioxide import Channel

        channel: Channel

    def add_done_callback(self, fn: Any) -> None:
        """Adds ``fn(future)``, run on the channel's loop once the future completes;
        :data:`nioxide.CLOSE` and :data:`nioxide.CLOSE_ON_FAILURE` close the channel."""
        if fn is CLOSE or fn is CLOSE_ON_FAILURE:
            self.channel._close_when(self, fn is CLOSE_ON_FAILURE)
            return
        super().add_done_callback(fn)


def CLOSE(future: ChannelFuture[Any]) -> None:  # noqa: N802 (Netty's name)
    """A listener that closes the future's channel once the future completes (Netty's
    ``ChannelFutureListener.CLOSE``): ``future.add_done_callback(nioxide.CLOSE)``."""
    future.channel.close()


def CLOSE_ON_FAILURE(future: ChannelFuture[Any]) -> None:  # noqa: N802 (Netty's name)
    """A listener that closes the future's channel if the future failed (Netty's
    ``ChannelFutureListener.CLOSE_ON_FAILURE``)."""
    if future.cancelled() or future.exception() is not None:
        future.channel.close()
