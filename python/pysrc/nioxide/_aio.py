"""The pure-Python parts of completion-handler AIO: :class:`CompletionHandler`, the base a
handler object may derive from (Java's ``CompletionHandler<V, A>``), and
:class:`StandardOpenOption`, the options of :meth:`AsynchronousFileChannel.open`.

Import these from :mod:`nioxide`.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

__all__ = ["CompletionHandler", "StandardOpenOption"]

_V = TypeVar("_V")
_A = TypeVar("_A")


class CompletionHandler(Generic[_V, _A]):
    """A completion handler: :meth:`completed` gets an operation's result, :meth:`failed` its
    exception, each with the attachment given when the operation started. Exactly one of them
    is called, once, on the thread of the channel's group that serves the channel, never
    inside the call that started the operation.

    Any object with these two methods is a handler (so is a ``(completed, failed)`` pair of
    callables); deriving from this class is optional. An exception either method raises
    goes to the exception handler of the channel's loop.

    >>> import nioxide
    >>> class Done(nioxide.CompletionHandler[int, list]):
    ...     def completed(self, result, attachment):
    ...         attachment.append(result)
    ...     def failed(self, exc, attachment):
    ...         attachment.append(exc)
    """

    def completed(self, result: _V, attachment: _A) -> Any:
        """Called with the operation's result."""
        raise NotImplementedError

    def failed(self, exc: BaseException, attachment: _A) -> Any:
        """Called with the exception the operation failed with."""
        raise NotImplementedError


class StandardOpenOption(str, enum.Enum):
    """How :meth:`AsynchronousFileChannel.open` opens a file (Java's names); plain strings
    such as ``"read"`` work too. With no option the file is opened for reading."""

    READ = "read"
    WRITE = "write"
    CREATE = "create"
    CREATE_NEW = "create_new"
    TRUNCATE_EXISTING = "truncate_existing"

    def __str__(self) -> str:
        return self.value
