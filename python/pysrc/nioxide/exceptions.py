"""The exceptions nioxide raises.

Every exception is a :class:`NioxideError`. Each class names the C error code it stands for in
its ``code`` class attribute (``"NX_ECLOSED"``, or ``"ECONNRESET"`` for an operating-system
error), so a Python error and a C error can be matched up.

Where Python has a built-in class for the same condition, the nioxide class inherits it too:
``except ConnectionRefusedError`` and ``except TimeoutError`` catch nioxide's errors as they
catch the socket module's, and ``except OSError`` catches a use after close
(:class:`ClosedChannelError`, ``EBADF``). Exceptions that are :class:`OSError` subclasses are
built with ``(errno, strerror)``, so ``e.errno`` and ``e.strerror`` are set.

Operating-system errors are :class:`NioxideOSError`, or the subclass for their errno:
``ECONNREFUSED`` :class:`ConnectionRefusedError`, ``ECONNRESET`` :class:`ConnectionResetError`,
``ECONNABORTED`` :class:`ConnectionAbortedError`, ``EPIPE`` :class:`BrokenPipeError`,
``ETIMEDOUT`` :class:`TimeoutError`. A host name that does not resolve raises
:class:`UnresolvedAddressError`, a :class:`socket.gaierror`.

The classes are defined here, in Python, and the extension module imports them.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import socket
from typing import ClassVar

__all__ = [
    "AcceptPendingError",
    "AlreadyBoundError",
    "AlreadyConnectedError",
    "AlreadyRegisteredError",
    "AsynchronousCloseError",
    "BrokenPipeError",
    "CancelledError",
    "CancelledKeyError",
    "ChannelShutdownError",
    "ClosedChannelError",
    "ClosedEventLoopError",
    "ClosedSelectorError",
    "ConnectionAbortedError",
    "ConnectionPendingError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "CorruptedFrameException",
    "DeadlockError",
    "DecoderException",
    "DirectionDisabledError",
    "ForkedError",
    "IllegalBlockingModeError",
    "InvalidArgumentError",
    "InvalidStateError",
    "LoopBusyError",
    "MalformedInputException",
    "NioxideError",
    "NioxideOSError",
    "NoConnectionPendingError",
    "NotYetBoundError",
    "NotYetConnectedError",
    "ReadPendingError",
    "ReadTimeoutException",
    "RejectedExecutionError",
    "ShutdownChannelGroupError",
    "OverlappingFileLockError",
    "TimeoutError",
    "TooLongFrameException",
    "UnresolvedAddressError",
    "UnsupportedOperationError",
    "UnsupportedOptionError",
    "WritePendingError",
    "WriteQueueFullError",
    "WriteTimeoutException",
]


class NioxideError(Exception):
    """The root of every exception nioxide raises."""

    #: The C error code's name (``NX_E*``, or ``E*`` for an operating-system error); ``None``
    #: where the class covers several codes.
    code: ClassVar[str | None] = None


# --- nioxide's own error kinds (the NX_E* codes) -------------------------------------------


class ClosedChannelError(NioxideError, OSError):
    """The channel is closed (``NX_ECLOSED``); only ``close()`` is still allowed. An
    :class:`OSError` with ``errno`` ``EBADF``, as the socket module raises for a closed socket
    (Java's ``ClosedChannelException`` is an ``IOException``), so ``except OSError`` catches a
    use after close. Its subclasses, the other "closed" errors, are ``OSError`` subclasses too."""

    code = "NX_ECLOSED"


class ClosedSelectorError(ClosedChannelError):
    """The selector is closed (``NX_ECLOSED`` on a selector); ``errno`` is ``EBADF``."""

    code = "NX_ECLOSED"


class AsynchronousCloseError(ClosedChannelError):
    """Another thread closed the channel while this call waited on it (``NX_EASYNCCLOSE``);
    ``errno`` is ``EBADF``."""

    code = "NX_EASYNCCLOSE"


class CancelledKeyError(NioxideError):
    """The selection key is cancelled (``NX_ECANCELLEDKEY``)."""

    code = "NX_ECANCELLEDKEY"


class IllegalBlockingModeError(NioxideError):
    """The channel's blocking mode forbids the call (``NX_EBLOCKINGMODE``): registering a
    blocking channel, or switching a registered channel to blocking mode."""

    code = "NX_EBLOCKINGMODE"


class UnsupportedOperationError(NioxideError, ValueError):
    """The channel does not support these interest ops (``NX_EOPS``), for example
    ``OP_ACCEPT`` on a :class:`~nioxide.SocketChannel`; also raised (Python only) by a call
    that would shut down the process-wide default :class:`~nioxide.AsynchronousChannelGroup`
    (Java's ``UnsupportedOperationException``)."""

    code = "NX_EOPS"


class UnsupportedOptionError(NioxideError, ValueError):
    """The channel does not support this socket option (``NX_ENOOPT``)."""

    code = "NX_ENOOPT"


class AlreadyRegisteredError(NioxideError):
    """The channel is registered with a selector (``NX_EREGISTERED``): another one
    (``register``), or any one (``detach``, which needs the channel free of keys and watches)."""

    code = "NX_EREGISTERED"


class NotYetConnectedError(NioxideError):
    """The channel is not connected (``NX_ENOTCONNECTED``)."""

    code = "NX_ENOTCONNECTED"


class AlreadyConnectedError(NioxideError):
    """The channel is already connected (``NX_EISCONNECTED``)."""

    code = "NX_EISCONNECTED"


class ConnectionPendingError(NioxideError):
    """A non-blocking connect is already in progress (``NX_ECONNPENDING``)."""

    code = "NX_ECONNPENDING"


class NoConnectionPendingError(NioxideError):
    """``finish_connect()`` without a connect in progress (``NX_ENOCONNPENDING``)."""

    code = "NX_ENOCONNPENDING"


class NotYetBoundError(NioxideError):
    """The server channel is not bound (``NX_ENOTBOUND``)."""

    code = "NX_ENOTBOUND"


class AlreadyBoundError(NioxideError):
    """The channel is already bound (``NX_EALREADYBOUND``)."""

    code = "NX_EALREADYBOUND"


class ForkedError(NioxideError):
    """The object was created before ``os.fork()`` and cannot be used in the child
    (``NX_EFORKED``): create new objects after a fork."""

    code = "NX_EFORKED"


class ReadPendingError(NioxideError):
    """A read is already pending on the channel (``NX_EREADPENDING``)."""

    code = "NX_EREADPENDING"


class WritePendingError(NioxideError):
    """A write is already pending on the channel (``NX_EWRITEPENDING``)."""

    code = "NX_EWRITEPENDING"


class AcceptPendingError(NioxideError):
    """An accept is already pending on the asynchronous server channel
    (``NX_EACCEPTPENDING``; Java's ``AcceptPendingException``)."""

    code = "NX_EACCEPTPENDING"


class WriteQueueFullError(NioxideError):
    """The channel's write queue holds its cap of bytes; the write was refused
    (``NX_EQUEUEFULL``)."""

    code = "NX_EQUEUEFULL"


class DirectionDisabledError(NioxideError, RuntimeError):
    """An earlier read (or write) on the asynchronous channel timed out or was cancelled, so
    that direction refuses further operations (``NX_EDISABLED``; Java's
    ``IllegalStateException``)."""

    code = "NX_EDISABLED"


class ShutdownChannelGroupError(NioxideError, RuntimeError):
    """The asynchronous channel group is shut down and takes no new channels
    (``NX_EGROUPSHUTDOWN``; Java's ``ShutdownChannelGroupException``)."""

    code = "NX_EGROUPSHUTDOWN"


class DecoderException(NioxideError):
    """A decoder failed on its input (Netty's ``DecoderException``), reported through
    ``exception_caught`` of the handlers after the decoder. Its subclasses say how the input
    was bad; an exception a :class:`nioxide.ByteToMessageDecoder` subclass's ``decode``
    raises reaches the next handler as a :class:`DecoderException` whose ``__cause__`` is the
    exception raised (a :class:`DecoderException` itself passes as it is)."""


class TooLongFrameException(DecoderException):
    """A frame was longer than its decoder's maximum (``NX_ETOOLONG``; Netty's
    ``TooLongFrameException``): the frame was discarded without being held whole, and the
    next frame decodes."""

    code = "NX_ETOOLONG"


class CorruptedFrameException(DecoderException):
    """A frame's header makes no sense (``NX_ECORRUPTED``; Netty's
    ``CorruptedFrameException``): a negative length field, or one shorter than the header
    itself. The bad header was skipped, and decoding goes on with what follows."""

    code = "NX_ECORRUPTED"


class MalformedInputException(DecoderException, UnicodeError):
    """A frame is not valid in its encoding and its :class:`nioxide.StringDecoder` is strict
    (``NX_EMALFORMED``; Java's ``MalformedInputException``). Also a :class:`UnicodeError` (a
    :class:`ValueError`), so ``except UnicodeError`` catches it; for an encoding decoded
    through Python's codecs, ``__cause__`` is the codec's :class:`UnicodeDecodeError`."""

    code = "NX_EMALFORMED"
class OverlappingFileLockError(NioxideError, RuntimeError):
    """A lock overlapping the requested region is held through the same asynchronous file
    channel, or being waited for (``NX_EOVERLAPPINGLOCK``; Java's
    ``OverlappingFileLockException``)."""

    code = "NX_EOVERLAPPINGLOCK"


class InvalidArgumentError(NioxideError, ValueError):
    """An argument is invalid (``NX_EINVAL``)."""

    code = "NX_EINVAL"


class ChannelShutdownError(ClosedChannelError, builtins.BrokenPipeError):
    """A write after ``shutdown_output()`` (``NX_ESHUTDOWN``); ``errno`` is ``EPIPE``, as
    the socket module reports it."""

    code = "NX_ESHUTDOWN"


# --- the runtime: event loops and futures ---------------------------------------------------


class ClosedEventLoopError(ClosedChannelError, RuntimeError):
    """The event loop has terminated (``NX_ECLOSED`` on a loop): it cannot run again. A
    :class:`RuntimeError`, as asyncio's "Event loop is closed" (and, as every
    :class:`ClosedChannelError`, an :class:`OSError` with ``errno`` ``EBADF``)."""

    code = "NX_ECLOSED"


class CancelledError(NioxideError, concurrent.futures.CancelledError):
    """The future was cancelled (``NX_ECANCELLED``): by ``cancel()``, or by a shutdown that
    dropped its task or timer. ``except concurrent.futures.CancelledError`` catches it; it is
    an :class:`Exception`, unlike :class:`asyncio.CancelledError`."""

    code = "NX_ECANCELLED"


class RejectedExecutionError(NioxideError, RuntimeError):
    """The event loop is shutting down or has terminated and refuses new work
    (``NX_EREJECTED``; Java's ``RejectedExecutionException``). Work from the loop's own thread
    is still accepted while it shuts down."""

    code = "NX_EREJECTED"


class DeadlockError(NioxideError, RuntimeError):
    """Waiting here would deadlock (``NX_EDEADLK``): ``result()`` of a pending future on the
    thread of its own event loop, which is the thread that would have to complete it."""

    code = "NX_EDEADLK"


class LoopBusyError(NioxideError, RuntimeError):
    """The event loop is already running (a re-entrant ``run()``, or ``run()`` while another
    thread runs it) or a library thread drives it (``NX_EBUSY``)."""

    code = "NX_EBUSY"


class InvalidStateError(NioxideError, concurrent.futures.InvalidStateError):
    """The future is already complete (``NX_EALREADYDONE``): a second ``set_result()`` or
    ``set_exception()``."""

    code = "NX_EALREADYDONE"


# --- operating-system errors (-errno in C) -------------------------------------------------


class NioxideOSError(NioxideError, OSError):
    """An operating-system error; ``errno`` and ``strerror`` are set."""


class TimeoutError(NioxideOSError, builtins.TimeoutError):
    """A wait timed out (``NX_ETIMEDOUT``, or the system's ``ETIMEDOUT``); ``errno`` is
    ``ETIMEDOUT``."""

    code = "NX_ETIMEDOUT"


class ReadTimeoutException(TimeoutError):
    """Nothing was read in time: what a :class:`nioxide.ReadTimeoutHandler` fires through
    ``exception_caught`` before it closes the channel (Netty's name). ``errno`` is
    ``ETIMEDOUT``."""


class WriteTimeoutException(TimeoutError):
    """A write did not complete in time: what a :class:`nioxide.WriteTimeoutHandler` fires
    through ``exception_caught`` before it closes the channel (Netty's name). ``errno`` is
    ``ETIMEDOUT``."""


class ConnectionRefusedError(NioxideOSError, builtins.ConnectionRefusedError):
    """The peer refused the connection (``ECONNREFUSED``)."""

    code = "ECONNREFUSED"


class ConnectionResetError(NioxideOSError, builtins.ConnectionResetError):
    """The peer reset the connection (``ECONNRESET``)."""

    code = "ECONNRESET"


class ConnectionAbortedError(NioxideOSError, builtins.ConnectionAbortedError):
    """The connection was aborted (``ECONNABORTED``)."""

    code = "ECONNABORTED"


class BrokenPipeError(NioxideOSError, builtins.BrokenPipeError):
    """A write to a connection the peer has closed (``EPIPE``)."""

    code = "EPIPE"


class UnresolvedAddressError(NioxideOSError, socket.gaierror):
    """A host name in an address did not resolve (Java's ``UnresolvedAddressException``): a
    :class:`socket.gaierror`, as ``socket.getaddrinfo`` raises it, with its ``errno`` (an
    ``EAI_*`` code) and ``strerror``. C takes resolved addresses only, so there is no C code."""
