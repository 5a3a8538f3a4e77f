"""The extension module behind :mod:`nioxide` (import from ``nioxide``, not from here).

Java NIO's Selector model and Netty's event loops over a Rust core. The semantics are those
of nioxide's C API (``nx_selector_*``, ``nx_socket_*``, ``nx_loop_*``, ``nx_promise_*``); this
stub is the Python documentation.
"""

import os
import socket
from collections.abc import Callable, Generator, Iterator
from collections.abc import Iterable
from types import GenericAlias, TracebackType
from typing import Any, Final, Generic, TypeAlias, TypeVar, final, overload

from typing_extensions import Buffer as BytesLike
from typing_extensions import Self, TypeVarTuple, Unpack, disjoint_base

from nioxide._future import ChannelFuture, Future, ScheduledFuture

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

__all__ = [
    "__version__",
    "OP_READ",
    "OP_WRITE",
    "OP_CONNECT",
    "OP_ACCEPT",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "TCP_NODELAY",
    "SO_KEEPALIVE",
    "SO_RCVBUF",
    "SO_SNDBUF",
    "SO_LINGER",
    "IPV6_V6ONLY",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_KEEPCNT",
    "Selector",
    "SelectionKey",
    "ServerSocketChannel",
    "SocketChannel",
    "RUN_DEFAULT",
    "RUN_ONCE",
    "RUN_NOWAIT",
    "EventLoop",
    "EventLoopGroup",
    "FutureBase",
    "ScheduledFutureBase",
    "Watch",
    "Timer",
    "Buffer",
    "OpaqueMessage",
    "UserEvent",
    "CHANNEL_INPUT_SHUTDOWN",
    "CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE",
    "CHANNEL_OUTPUT_SHUTDOWN",
    "Channel",
    "TcpChannel",
    "TcpServerChannel",
    "LocalChannel",
    "LocalServerChannel",
    "ChannelPipeline",
    "ChannelHandlerContext",
    "ServerBootstrap",
    "Bootstrap",
    "EmbeddedChannel",
    "_HANDLER_METHODS",
    "_CHANNEL_OPTIONS",
    "AsynchronousChannelGroup",
    "AsynchronousServerSocketChannel",
    "AsynchronousSocketChannel",
    "AsynchronousFileChannel",
    "FileLock",
    "NativeHandler",
    "IdleState",
    "IdleStateEvent",
    "IdleStateHandler",
    "ReadTimeoutHandler",
    "WriteTimeoutHandler",
    "LineBasedFrameDecoder",
    "DelimiterBasedFrameDecoder",
    "LengthFieldBasedFrameDecoder",
    "LengthFieldPrepender",
    "FixedLengthFrameDecoder",
    "StringDecoder",
    "StringEncoder",
    "ByteToMessageDecoder",
    "Cumulation",
    "MessageToByteEncoder",
    "live_objects",
]

__version__: Final[str]

OP_READ: Final[int]
"""Interest in reading (Java's ``OP_READ``); 1."""
OP_WRITE: Final[int]
"""Interest in writing (Java's ``OP_WRITE``); 4."""
OP_CONNECT: Final[int]
"""Interest in connect completion (Java's ``OP_CONNECT``); 8."""
OP_ACCEPT: Final[int]
"""Interest in accepting (Java's ``OP_ACCEPT``); 16."""

SO_REUSEADDR: Final[int]
"""Socket option ``SO_REUSEADDR`` (0/1); 1, as C's ``NX_SO_REUSEADDR``."""
SO_REUSEPORT: Final[int]
"""Socket option ``SO_REUSEPORT`` (0/1); 2."""
TCP_NODELAY: Final[int]
"""Socket option ``TCP_NODELAY`` (0/1); 3."""
SO_KEEPALIVE: Final[int]
"""Socket option ``SO_KEEPALIVE`` (0/1); 4."""
SO_RCVBUF: Final[int]
"""Socket option ``SO_RCVBUF`` in bytes (> 0; Linux doubles what is set and reports the
doubled value); 5."""
SO_SNDBUF: Final[int]
"""Socket option ``SO_SNDBUF`` in bytes (> 0; Linux doubles it too); 6."""
SO_LINGER: Final[int]
"""Socket option ``SO_LINGER`` in seconds; negative means off; 7."""
IPV6_V6ONLY: Final[int]
"""Socket option ``IPV6_V6ONLY`` (0/1, IPv6 sockets only); 8."""
TCP_KEEPIDLE: Final[int]
"""Socket option ``TCP_KEEPIDLE``: seconds a connection is idle before the first keep-alive
probe (1 to 32767; applies while ``SO_KEEPALIVE`` is on, which setting it leaves alone); 9."""
TCP_KEEPINTVL: Final[int]
"""Socket option ``TCP_KEEPINTVL``: seconds between keep-alive probes (1 to 32767); 10."""
TCP_KEEPCNT: Final[int]
"""Socket option ``TCP_KEEPCNT``: unanswered keep-alive probes before the connection is
dropped (1 to 127); 11."""

__Address: TypeAlias = tuple[str, int] | tuple[str, int, int, int]

@final
class Selector:
    """A multiplexor of channels (Java's ``Selector``).

    Register non-blocking channels with ``channel.register(selector, ops, attachment)``, call
    :meth:`select`, walk the returned keys and do the I/O yourself. Readiness is
    level-triggered: a key is selected while its channel is ready for one of its interest ops
    (readiness nobody consumed is reported again); a key can ask for edges instead
    (:attr:`SelectionKey.edge_triggered`). Interest changes and cancellations take effect at
    the next select. Registering, cancelling, closing and :meth:`wakeup` work from any thread,
    also while another thread is blocked in :meth:`select`.

    A context manager: leaving the ``with`` block closes the selector. A selector that is
    garbage-collected is closed too, with a ``ResourceWarning`` ("unclosed ...", as a socket
    gives) if it was open.

    >>> import nioxide
    >>> with nioxide.Selector() as selector:
    ...     selector.select_now()
    []
    """

    def __new__(cls) -> Self:
        """Opens a selector (an epoll instance). Raises :class:`NioxideOSError` (``EMFILE``)."""

    def select(self, timeout: float | None = None) -> list[SelectionKey]:
        """Waits until at least one registered channel is ready, ``timeout`` seconds pass
        (``None`` waits forever; ``0`` or less does not wait), or :meth:`wakeup` or
        :meth:`close` is called. Replaces the selected-key set and returns it (possibly empty).

        The GIL is released while waiting. A signal interrupts the wait to run Python's
        handlers (Ctrl-C raises ``KeyboardInterrupt``); otherwise ``EINTR`` is retried with the
        remaining time.

        Raises :class:`ClosedSelectorError`, :class:`ForkedError` (in a forked child).
        """

    def select_now(self) -> list[SelectionKey]:
        """:meth:`select` without waiting; clears a pending :meth:`wakeup`."""

    def wakeup(self) -> None:
        """Makes a :meth:`select` blocked in another thread return at once, or, if none is
        blocked, the next one. Safe from any thread. Raises :class:`ClosedSelectorError`."""

    def close(self) -> None:
        """Closes the selector: every key is cancelled and its attachment dropped, a blocked
        :meth:`select` returns, and the epoll and wake-up descriptors are closed (also while
        something still refers to the object). Idempotent."""

    def is_open(self) -> bool:
        """Whether the selector is open."""

    def keys(self) -> list[SelectionKey]:
        """The registered keys (including keys cancelled since the last select).
        Raises :class:`ClosedSelectorError`."""

    def selected_keys(self) -> list[SelectionKey]:
        """The keys the last select returned. Raises :class:`ClosedSelectorError`."""

    def counters(self) -> dict[str, int]:
        """The poll backend's counters since the selector opened: ``waits`` (``epoll_wait``
        calls), ``ctl`` (``epoll_ctl`` calls: one per channel registered and per channel
        removed, none per event or interest change), ``events`` (events delivered) and
        ``empty_waits`` (waits that found nothing)."""

    def fileno(self) -> int:
        """The epoll descriptor (nioxide owns it), or ``-1`` once closed, for a host loop to wait
        on. It polls readable when epoll has an event for a registered channel, also one for
        ops outside a key's interest (a connected socket is writable at once), so a host may
        wake for a select that selects nothing; and readiness a select has already seen stays
        in nioxide's cache, so a level-triggered key still ready (data left unread) is selected
        by the next select although the descriptor may not poll readable. Poll it with a zero
        timeout while the last select selected a key or after an interest change."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the selector; exceptions propagate."""

@final
class SelectionKey:
    """A channel's registration with a selector (Java's ``SelectionKey``).

    The same object comes back for a channel each time (from :meth:`Selector.select`,
    :meth:`Selector.keys` and ``register``). Any call on a cancelled key but
    :meth:`is_valid`, :meth:`cancel`, :attr:`attachment`, :attr:`channel`,
    :attr:`selector` and :attr:`edge_triggered` raises :class:`CancelledKeyError`.
    """

    @property
    def interest_ops(self) -> int:
        """The interest set (``OP_*`` bits). Setting it takes effect at the next select;
        ops the channel does not support raise :class:`UnsupportedOperationError`, a number
        that is no mask (negative, beyond 32 bits) :class:`InvalidArgumentError` (both are
        ``ValueError`` s)."""

    @interest_ops.setter
    def interest_ops(self, value: int, /) -> None: ...
    def interest_ops_or(self, ops: int) -> int:
        """Adds ``ops`` to the interest set in one atomic step (Java's ``interestOpsOr``) and
        returns the set before. Atomic with respect to :meth:`interest_ops_and` and setting
        :attr:`interest_ops` from any thread; takes effect at the next select. Ops the channel
        does not support raise :class:`UnsupportedOperationError` and change nothing."""

    def interest_ops_and(self, ops: int) -> int:
        """Keeps only the interest ops also in ``ops`` (Java's ``interestOpsAnd``), in one
        atomic step, and returns the set before: ``key.interest_ops_and(~OP_WRITE)`` drops
        write interest. Any 32-bit mask is accepted (negative ones as two's complement);
        others raise :class:`InvalidArgumentError`. Atomic and effective as
        :meth:`interest_ops_or`."""

    @property
    def ready_ops(self) -> int:
        """The ops the last select that selected this key found ready."""

    @property
    def attachment(self) -> Any:
        """The attached object (``None`` if none; a cancelled key keeps none)."""

    def attach(self, obj: Any) -> Any:
        """Attaches ``obj`` (``None`` detaches) and returns the previous attachment."""

    @property
    def channel(self) -> SocketChannel | ServerSocketChannel:
        """The channel this key registers: the object that was registered."""

    @property
    def selector(self) -> Selector:
        """The selector this key belongs to."""

    @property
    def edge_triggered(self) -> bool:
        """Whether the key is edge-triggered: selected once per new readiness (or interest
        change) instead of again while the readiness lasts. Default ``False``."""

    @edge_triggered.setter
    def edge_triggered(self, value: bool, /) -> None: ...
    def is_readable(self) -> bool:
        """Whether the last select found the channel readable (``OP_READ`` in :attr:`ready_ops`)."""

    def is_writable(self) -> bool:
        """Whether the last select found the channel writable."""

    def is_acceptable(self) -> bool:
        """Whether the last select found a connection to accept."""

    def is_connectable(self) -> bool:
        """Whether the last select found a connect finished, or failed: then
        :meth:`SocketChannel.finish_connect` raises the error."""

    def is_valid(self) -> bool:
        """Whether the key is valid: not cancelled, its channel and selector open."""

    def cancel(self) -> None:
        """Cancels the key (idempotent): its attachment is dropped now and the channel leaves
        the selector at its next select."""

@final
class ServerSocketChannel:
    """A TCP listener (Java's ``ServerSocketChannel``).

    ``family`` is ``socket.AF_INET``, ``socket.AF_INET6`` or ``None`` (an IPv6 dual-stack
    socket that also takes IPv4 addresses; IPv4 where IPv6 is unavailable). New channels are in
    blocking mode, as in Java; ``SO_REUSEADDR`` is on. A context manager; close is idempotent.
    A channel whose object is garbage-collected open, and which no selector key or loop watch
    holds, is closed with a ``ResourceWarning`` ("unclosed ...", as a socket gives); one a key
    holds lives on (``key.channel`` hands out a new object for it).

    >>> import nioxide
    >>> with nioxide.ServerSocketChannel() as server:
    ...     server.bind(("127.0.0.1", 0))
    ...     server.local_address[0]
    '127.0.0.1'
    """

    def __new__(cls, family: int | None = None) -> Self:
        """Opens an unbound channel of ``family``. Raises :class:`InvalidArgumentError` (a
        family other than ``AF_INET``, ``AF_INET6``, ``None``), :class:`NioxideOSError`."""
    @staticmethod
    def from_socket(sock: socket.socket) -> ServerSocketChannel:
        """Takes over ``sock``'s descriptor (a listener inherited through socket activation,
        or made by another library): the channel owns it and ``sock`` is detached
        (``sock.detach()``: it is closed without closing the descriptor, ``fileno()`` -1). No
        duplicate is made. A listening socket is bound (accept at once); an unbound one is not
        (:meth:`bind` binds and listens); a bound one that does not listen is refused (it could
        not be bound again: listen on it first). The channel starts in blocking mode; the
        descriptor is made non-blocking underneath and close-on-exec. On error ``sock`` is
        untouched and still owns it. Raises ``TypeError`` (not a ``socket.socket``, or an
        ``ssl.SSLSocket``), :class:`InvalidArgumentError` (closed, connected, bound without
        listening, or not a TCP socket of ``AF_INET``/``AF_INET6``), :class:`NioxideOSError`."""

    def bind(self, address: _Address, backlog: int = 0) -> None:
        """Binds to ``address`` (port 0 picks a free port: see :attr:`local_address`) and
        listens with ``backlog`` (0 or less: the system default). Raises
        :class:`AlreadyBoundError`, :class:`NioxideOSError` (``EADDRINUSE``)."""

    def accept(self) -> SocketChannel | None:
        """Accepts a connection: a new connected :class:`SocketChannel` in blocking mode, or
        ``None`` when non-blocking and none is pending. Blocking mode waits (GIL released;
        Ctrl-C interrupts; :meth:`close` from another thread raises
        :class:`AsynchronousCloseError`). On ``EMFILE`` the error is raised and accept
        readiness is held back for up to 100 ms, so a select loop does not spin. Raises
        :class:`NotYetBoundError`."""

    @property
    def local_address(self) -> _Address | None:
        """The bound address with the chosen port, or ``None`` before :meth:`bind`."""

    def configure_blocking(self, block: bool) -> None:
        """Switches blocking mode; a registered channel cannot switch to blocking mode
        (:class:`IllegalBlockingModeError`)."""

    def is_blocking(self) -> bool:
        """Whether the channel is in blocking mode."""

    def is_registered(self) -> bool:
        """Whether the channel is registered with a selector."""

    def set_option(self, opt: int, value: int) -> None:
        """Sets a socket option (``SO_*``); see :meth:`supported_options`. Raises
        :class:`UnsupportedOptionError`, :class:`InvalidArgumentError`."""

    def get_option(self, opt: int) -> int:
        """Reads a socket option (booleans as 0/1)."""

    def supported_options(self) -> list[int]:
        """The options this channel type supports: ``SO_REUSEADDR``, ``SO_REUSEPORT``,
        ``SO_RCVBUF``, ``IPV6_V6ONLY``."""

    def register(self, selector: Selector, ops: int, attachment: Any = None) -> SelectionKey:
        """Registers with ``selector`` for ``ops`` (``OP_ACCEPT``) with an attachment, or
        updates the key if already registered there. Raises
        :class:`IllegalBlockingModeError` (blocking mode), :class:`UnsupportedOperationError`,
        :class:`InvalidArgumentError` (``ops`` negative or beyond 32 bits),
        :class:`AlreadyRegisteredError` (registered with another selector),
        :class:`ClosedChannelError`, :class:`ClosedSelectorError`,
        :class:`CancelledKeyError` (cancelled since the last select)."""

    def fileno(self) -> int:
        """The descriptor (nioxide owns it), or ``-1`` once closed."""

    def detach(self) -> int:
        """Hands the descriptor over: closes the channel without closing it and returns it;
        the caller owns it from then on (``socket.socket(fileno=fd)`` wraps it). It comes
        back in the channel's blocking mode and close-on-exec. A blocked :meth:`accept` in
        another thread raises :class:`AsynchronousCloseError`; the call returns once no call
        uses the descriptor any more. Refused while registered with a selector or watched by
        a loop (:class:`AlreadyRegisteredError`; cancel the key or close the watch first).
        Raises :class:`ClosedChannelError` (closed or detached already)."""

    def close(self) -> None:
        """Closes the channel (idempotent): cancels its key, and a blocked :meth:`accept` in
        another thread raises :class:`AsynchronousCloseError`."""

    def is_open(self) -> bool:
        """Whether the channel is open."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the channel; exceptions propagate."""

@final
class SocketChannel:
    """A TCP connection (Java's ``SocketChannel``).

    ``family`` as for :class:`ServerSocketChannel`. New and accepted channels are in blocking
    mode, as in Java. Every call that may wait releases the GIL; in blocking mode Ctrl-C
    interrupts it and :meth:`close` from another thread makes it raise
    :class:`AsynchronousCloseError`. Reads are serialized with reads and writes with writes.
    No write raises ``SIGPIPE``. A context manager; close is idempotent. Garbage-collected
    open, it is closed as a :class:`ServerSocketChannel` is (a ``ResourceWarning``).
    """

    def __new__(cls, family: int | None = None) -> Self:
        """Opens an unbound channel of ``family``. Raises :class:`InvalidArgumentError` (a
        family other than ``AF_INET``, ``AF_INET6``, ``None``), :class:`NioxideOSError`."""
    @staticmethod
    def from_socket(sock: socket.socket) -> SocketChannel:
        """Takes over ``sock``'s descriptor (a socket made by another library or handed
        down by a parent): the channel owns it and ``sock`` is detached (``sock.detach()``:
        it is closed without closing the descriptor, ``fileno()`` -1). No duplicate is made.
        Its state is found out: connected if it has a peer, connecting if its connect is
        still in progress (:meth:`finish_connect`), else unconnected. The channel starts in
        blocking mode; the descriptor is made non-blocking underneath and close-on-exec. On
        error ``sock`` is untouched and still owns it. Raises ``TypeError`` (not a
        ``socket.socket``, or an ``ssl.SSLSocket``), :class:`InvalidArgumentError` (closed,
        listening, or not a TCP socket of ``AF_INET``/``AF_INET6``: UDP, Unix),
        :class:`NioxideOSError`."""

    def connect(self, address: _Address) -> bool:
        """Connects to ``address``. Blocking mode waits and returns ``True``; non-blocking
        mode returns ``True`` if connected at once, else ``False``: register for
        ``OP_CONNECT`` and call :meth:`finish_connect`. A failed connect closes the channel.
        Raises :class:`AlreadyConnectedError`, :class:`ConnectionPendingError`,
        :class:`ConnectionRefusedError`, ..."""

    def finish_connect(self) -> bool:
        """Completes a pending connect: ``True`` once connected, ``False`` while in progress
        (non-blocking mode). A failed connect raises its error (for example
        :class:`ConnectionRefusedError` with ``errno`` set) and closes the channel. Raises
        :class:`NoConnectionPendingError`."""

    def is_connection_pending(self) -> bool:
        """Whether a non-blocking connect is in progress."""

    def is_connected(self) -> bool:
        """Whether the channel is connected (and open)."""

    def is_input_shutdown(self) -> bool:
        """Whether the input side is shut down by :meth:`shutdown_input` (``False`` once
        closed)."""

    def is_output_shutdown(self) -> bool:
        """Whether the output side is shut down by :meth:`shutdown_output` (``False`` once
        closed)."""

    def bind(self, address: _Address) -> None:
        """Binds the local side before connecting (optional). Raises :class:`AlreadyBoundError`
        (bound already, by a bind or a connect), :class:`ConnectionPendingError`,
        :class:`NioxideOSError` (``EADDRINUSE``)."""

    def read_into(self, buffer: BytesLike) -> int | None:
        """Reads into ``buffer`` (a writable bytes-like object: ``bytearray``,
        ``memoryview``, ``array``) without copying: the bytes go straight into its memory.
        Returns the count, ``0`` at end of stream (or for an empty buffer), or ``None`` when
        non-blocking and nothing is available (``io.RawIOBase`` style). ``bytes`` is refused
        with ``TypeError``. Raises :class:`NotYetConnectedError`,
        :class:`ConnectionResetError` (the peer reset the connection: every later read raises
        it too, as in Java), ..."""

    def read(self, n: int) -> bytes | None:
        """Reads up to ``n`` bytes: ``b""`` at end of stream, ``None`` when it would block."""

    def readv_into(self, buffers: Iterable[BytesLike]) -> int | None:
        """Scattering read into ``buffers`` in order; results as :meth:`read_into`."""

    def write(self, data: BytesLike) -> int:
        """Writes ``data`` (any bytes-like object). Non-blocking mode writes what fits now
        (possibly 0); blocking mode writes everything. Returns the count. Raises
        :class:`ChannelShutdownError` after :meth:`shutdown_output`,
        :class:`BrokenPipeError`, :class:`ConnectionResetError`, ..."""

    def writev(self, buffers: Iterable[BytesLike]) -> int:
        """Gathering write of ``buffers`` in order; results as :meth:`write`."""

    def shutdown_input(self) -> None:
        """Shuts down reading: later reads return end of stream. Idempotent."""

    def shutdown_output(self) -> None:
        """Shuts down writing (half-close): the peer reads end of stream. Idempotent."""

    @property
    def local_address(self) -> _Address | None:
        """The local address, or ``None`` before bind or connect."""

    @property
    def remote_address(self) -> _Address | None:
        """The peer's address, or ``None`` while not connected."""

    def configure_blocking(self, block: bool) -> None:
        """Switches blocking mode; a registered channel cannot switch to blocking mode
        (:class:`IllegalBlockingModeError`)."""

    def is_blocking(self) -> bool:
        """Whether the channel is in blocking mode."""

    def is_registered(self) -> bool:
        """Whether the channel is registered with a selector."""

    def set_option(self, opt: int, value: int) -> None:
        """Sets a socket option (``SO_*``, ``TCP_NODELAY``, ...); see
        :meth:`supported_options`. Raises :class:`UnsupportedOptionError`,
        :class:`InvalidArgumentError`."""

    def get_option(self, opt: int) -> int:
        """Reads a socket option (booleans as 0/1)."""

    def supported_options(self) -> list[int]:
        """The options this channel type supports: every ``SO_*``, ``TCP_NODELAY``, the
        keep-alive tuning ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``, and
        ``IPV6_V6ONLY`` on IPv6 channels."""

    def register(self, selector: Selector, ops: int, attachment: Any = None) -> SelectionKey:
        """Registers with ``selector`` for ``ops`` (``OP_READ | OP_WRITE | OP_CONNECT``)
        with an attachment, or updates the key if already registered there; errors as
        :meth:`ServerSocketChannel.register`."""

    def fileno(self) -> int:
        """The descriptor (nioxide owns it), or ``-1`` once closed."""

    def detach(self) -> int:
        """Hands the descriptor over (to ``ssl``, another library, or a child process): closes
        the channel without closing it and returns it; the caller owns it from then on
        (``socket.socket(fileno=fd)`` wraps it). It comes back in the channel's blocking mode
        (a non-blocking channel's stays non-blocking: call ``setblocking(False)`` on the
        wrapping socket) and close-on-exec. A call blocked in another thread raises
        :class:`AsynchronousCloseError`; this returns once no call uses the descriptor any
        more. Refused while registered with a selector or watched by a loop
        (:class:`AlreadyRegisteredError`; cancel the key or close the watch first). Raises
        :class:`ClosedChannelError` (closed or detached already)."""

    def close(self) -> None:
        """Closes the channel (idempotent): cancels its key, and a call blocked in another
        thread raises :class:`AsynchronousCloseError`."""

    def is_open(self) -> bool:
        """Whether the channel is open."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the channel; exceptions propagate."""

# --- the runtime: event loops, groups, futures, watches ---------------------------------------

RUN_DEFAULT: Final[int]
"""Run mode: until :meth:`EventLoop.stop`, shutdown, or nothing referenced is left (no queued
task, no ref'd timer or watch); libuv's ``UV_RUN_DEFAULT``; 0."""
RUN_ONCE: Final[int]
"""Run mode: one turn, waiting for I/O or the next timer if nothing is pending; 1."""
RUN_NOWAIT: Final[int]
"""Run mode: one turn without waiting (for a host loop that polls :meth:`EventLoop.backend_fd`); 2."""

_ExceptionHandler: TypeAlias = Callable[[EventLoop | None, dict[str, Any]], object]

@final
class EventLoop:
    """An event loop (Netty's ``EventLoop``, libuv's ``uv_loop_t``): one thread at a time, one
    poll backend, a task queue any thread may push to, timers and readiness watches.

    ``EventLoop()`` makes a loop *driven by the caller*: callbacks run only inside
    :meth:`run` (``RUN_DEFAULT``, ``RUN_ONCE`` or ``RUN_NOWAIT``), on the thread that calls it;
    that thread (at first, the one that made the loop) is the loop's thread
    (:meth:`in_event_loop`). A host loop can drive it too: poll :meth:`backend_fd`, wait at
    most :meth:`backend_timeout`, run a ``RUN_NOWAIT`` turn (:func:`nioxide.asyncio_bridge`
    does this for asyncio). :meth:`spawn` makes a loop *driven by a thread the library starts*
    (``nioxide-loop-N``, signals blocked), which runs until shut down.

    Every method is safe from any thread. No callback ever runs inside the call that
    registered it: it runs on the loop's thread on a later turn, in the :mod:`contextvars`
    context of its registration. Tasks run in submission order; timers in deadline order and
    never early (the monotonic clock). Callbacks are any callables.

    An :class:`Exception` raised by a callback goes to its future (:meth:`submit`,
    :meth:`schedule`) or to the exception handler (:meth:`set_exception_handler`; by default
    logged to the ``"nioxide"`` logger), and the loop goes on. A :class:`BaseException`
    (``KeyboardInterrupt``, ``SystemExit``) stops a caller-driven loop and propagates out of
    :meth:`run` after the current turn, as in asyncio (a library-driven loop hands it to the
    exception handler). :meth:`run` and the waits release the GIL, and Ctrl-C interrupts them;
    the loop's thread takes the GIL once per callback phase of a turn, not once per callback.

    Shutting down (:meth:`shutdown_gracefully`) goes through Netty's phases: work from other
    threads is rejected (:class:`RejectedExecutionError`) while work from the loop's own
    thread is still accepted; queued work runs until the quiet period has passed with nothing
    new, or the timeout; timers not yet due are cancelled (their futures raise
    :class:`CancelledError`); watched channels are closed; the loop terminates.
    :meth:`shutdown_now` skips the draining (dropped tasks cancel their futures).

    A context manager: leaving the ``with`` block closes a caller-driven loop, and shuts a
    library-driven one down gracefully and waits for its thread. A loop object that is
    garbage-collected is shut down the same way, without waiting, and with a
    ``ResourceWarning`` if nothing had closed it or begun its shutdown (asyncio's "unclosed
    event loop"; the loops of a group are the group's). A caller-driven loop in a
    reference cycle with its callbacks is collected; a library-driven loop, like a thread,
    lives until it is shut down. Library-driven loops still running at interpreter exit are
    shut down gracefully and joined (``atexit``), so no loop thread calls into a finalizing
    interpreter. After ``os.fork()`` a loop from the parent raises :class:`ForkedError` in the
    child: make new loops there.

    >>> import nioxide
    >>> with nioxide.EventLoop() as loop:
    ...     seen = []
    ...     loop.execute(seen.append, "task")
    ...     timer = loop.schedule(0.01, seen.append, "timer")
    ...     loop.run()
    ...     seen
    False
    ['task', 'timer']
    """

    def __new__(cls) -> Self:
        """A loop driven by the caller. Raises :class:`NioxideOSError` (``EMFILE``)."""

    @staticmethod
    def spawn() -> EventLoop:
        """A loop driven by a new library thread (``nioxide-loop-N``), running until shut down;
        join it with :meth:`await_termination` (or use it as a context manager). Raises
        :class:`NioxideOSError`, :class:`RejectedExecutionError` (during interpreter exit)."""

    def run(self, mode: int = ...) -> bool:
        """Runs the loop on this thread (which becomes its thread) as ``mode`` says
        (:data:`RUN_DEFAULT`, :data:`RUN_ONCE`, :data:`RUN_NOWAIT`); returns whether referenced
        work is left (libuv's ``uv_run``). ``RUN_DEFAULT`` and ``RUN_ONCE`` return ``False`` at
        once, without a turn, when nothing referenced is left (:meth:`is_alive`). A
        :meth:`stop` before makes it return after at most one turn. Releases the GIL while
        waiting; Ctrl-C raises ``KeyboardInterrupt``; a
        ``BaseException`` from a callback is raised here. Raises :class:`LoopBusyError` (a
        re-entrant run, a run while another thread runs it, a library-driven loop),
        :class:`ClosedEventLoopError` (terminated), :class:`ForkedError`,
        :class:`InvalidArgumentError` (a bad mode)."""

    def stop(self) -> None:
        """Makes a running :meth:`run` return after its current turn (from any thread); a stop
        before a run makes that run return after at most one turn. No effect on a loop from
        :meth:`spawn` (shut it down instead)."""

    def execute(self, callable: Callable[[Unpack[_Ts]], object], /, *args: Unpack[_Ts]) -> None:
        """Runs ``callable(*args)`` on the loop's thread, after the tasks queued before it. An
        exception goes to the exception handler. Raises :class:`RejectedExecutionError`
        (shutting down, from another thread; or terminated), :class:`ForkedError`,
        ``TypeError`` (not callable)."""

    def submit(self, callable: Callable[[Unpack[_Ts]], _T], /, *args: Unpack[_Ts]) -> Future[_T]:
        """:meth:`execute` returning a :class:`Future` of ``callable(*args)``: its result, or
        the exception it raised. A task dropped by a shutdown without running cancels it."""

    def schedule(
        self, delay: float, callable: Callable[[Unpack[_Ts]], _T], /, *args: Unpack[_Ts]
    ) -> ScheduledFuture[_T]:
        """Runs ``callable(*args)`` on the loop's thread after ``delay`` seconds (``<= 0``: as
        soon as possible), never earlier; returns its :class:`ScheduledFuture`. Cancelling it
        before the run prevents the run. The timer keeps a ``RUN_DEFAULT`` run alive unless
        :meth:`ScheduledFuture.unref` is called. Raises as :meth:`execute`,
        :class:`InvalidArgumentError` (NaN)."""

    def schedule_at_fixed_rate(
        self,
        initial_delay: float,
        period: float,
        callable: Callable[[Unpack[_Ts]], object],
        /,
        *args: Unpack[_Ts],
    ) -> ScheduledFuture[None]:
        """Runs ``callable(*args)`` after ``initial_delay``, then every ``period`` seconds
        counted from the first deadline (Java's ``scheduleAtFixedRate``: a late run does not
        shift later ones; runs never overlap). The future completes only when a run raises (it
        then holds the exception and the runs stop) or it is cancelled. Raises as
        :meth:`schedule`; :class:`InvalidArgumentError` unless ``period > 0``."""

    def schedule_with_fixed_delay(
        self,
        initial_delay: float,
        delay: float,
        callable: Callable[[Unpack[_Ts]], object],
        /,
        *args: Unpack[_Ts],
    ) -> ScheduledFuture[None]:
        """As :meth:`schedule_at_fixed_rate`, but each run starts ``delay`` seconds after the
        previous one ended (Java's ``scheduleWithFixedDelay``)."""

    def create_promise(self) -> Future[Any]:
        """A new pending :class:`Future` whose done callbacks run on this loop; complete it with
        :meth:`Future.set_result` or :meth:`Future.set_exception` (Netty's ``newPromise``);
        the same as ``Future(loop)``."""

    def watch(
        self,
        target: SocketChannel | ServerSocketChannel | int | Any,
        ops: int,
        callback: Callable[[Watch, int], object],
    ) -> Watch:
        """Calls ``callback(watch, ready_ops)`` on the loop's thread while ``target`` is ready
        for one of ``ops`` (level-triggered, like libuv's ``uv_poll``). ``target`` is a
        non-blocking channel not registered with a selector, or a descriptor the caller owns
        (an ``int``, or an object with ``fileno()``: ``OP_READ``/``OP_WRITE``; nioxide never
        closes it). An active, ref'd watch keeps a ``RUN_DEFAULT`` run alive. Raises
        :class:`IllegalBlockingModeError`, :class:`AlreadyRegisteredError`,
        :class:`UnsupportedOperationError`, :class:`InvalidArgumentError` (``ops`` negative
        or beyond 32 bits), :class:`RejectedExecutionError`,
        :class:`ForkedError`, ``TypeError`` (not a channel, descriptor or callable; a
        ``bool``), :class:`NioxideOSError` from epoll (``EEXIST``: the descriptor is watched
        already; ``EPERM``: it cannot be polled, as a regular file)."""

    def timer(self, callback: Callable[[Timer, Unpack[_Ts]], object], /, *args: Unpack[_Ts]) -> Timer:
        """A reusable :class:`Timer` on this loop (libuv's ``uv_timer_t``), stopped: each time it
        fires, ``callback(timer, *args)`` runs on the loop's thread, in the :mod:`contextvars`
        context of this call. Start it with :meth:`Timer.start`. Raises
        :class:`RejectedExecutionError` (shutting down, from another thread; or terminated),
        :class:`ForkedError`, ``TypeError`` (not callable)."""

    def in_event_loop(self) -> bool:
        """Whether this thread is the loop's thread."""

    def now(self) -> float:
        """The loop's monotonic clock: seconds since the loop was made."""

    def time(self) -> float:
        """:meth:`now` (asyncio's name)."""

    def backend_fd(self) -> int:
        """The poll backend's descriptor: readable when the loop has I/O, a task queued, or a
        new earliest timer, for a host loop to poll (nioxide owns it, and closes it when the
        loop terminates; then ``-1``)."""

    def fileno(self) -> int:
        """:meth:`backend_fd`."""

    def backend_timeout(self) -> float | None:
        """How long a host loop may wait before the next turn, in seconds: ``0.0`` while work
        is pending (queued tasks, cached readiness, a stop), else the time to the next timer,
        at most until an accept back-off ends or, in a graceful shutdown, the rest of its quiet
        period; ``None`` when only the descriptor can bring work."""

    def counters(self) -> dict[str, int]:
        """The loop's counters: ``turns``, ``events`` (I/O events dispatched to watches),
        ``tasks_run`` (done callbacks included), ``timers_fired`` (each periodic run counts),
        ``wait_ns`` (nanoseconds spent waiting in the backend), ``panics`` and
        ``unhandled_exceptions`` (exceptions that reached the tail of a pipeline on this loop,
        each given to the loop's exception handler); and its backend's system calls:
        ``epoll_waits``, ``epoll_ctls``, ``backend_events`` (events ``epoll_wait`` returned,
        the wake-up eventfd's included) and ``empty_waits`` (waits that found nothing)."""

    def shutdown_gracefully(self, quiet_period: float = 0.0, timeout: float = 15.0) -> None:
        """Starts a graceful shutdown (see the class docs) and returns at once: queued work
        runs until ``quiet_period`` seconds have passed with nothing new, or ``timeout``
        seconds. A caller-driven loop goes through it inside :meth:`run`. Idempotent."""

    def shutdown_now(self) -> None:
        """Starts a shutdown that skips the draining: tasks still queued at the end of the
        current turn are dropped (their futures cancelled)."""

    def await_termination(self, timeout: float | None = None) -> bool:
        """Waits until the loop has terminated (``None``: forever) with the GIL released, joins
        its thread, and drops what never ran here; returns whether it terminated. Ctrl-C
        interrupts it. Raises :class:`DeadlockError` on a library-driven loop's own thread."""

    def is_shutting_down(self) -> bool:
        """Whether shutdown has started (or finished)."""

    def is_terminated(self) -> bool:
        """Whether the loop has terminated."""

    def is_alive(self) -> bool:
        """Whether the loop has referenced work left (libuv's ``uv_loop_alive``): a queued task,
        an active ref'd timer or scheduled task, an active ref'd watch, or a shutdown under way.
        ``RUN_DEFAULT`` and ``RUN_ONCE`` runs return at once while it is ``False``."""

    def _set_close_hook(self, hook: Callable[[], object] | None, /) -> None:
        """For :class:`AsyncioBridge`: ``hook()`` runs once before a caller-driven loop's backend
        descriptor closes (in :meth:`close`, or after a :meth:`run` in which it terminated)."""

    def is_library_driven(self) -> bool:
        """Whether a library thread drives the loop (:meth:`spawn`, :class:`EventLoopGroup`)."""

    def close(self) -> None:
        """Shuts the loop down now. A caller-driven loop not running terminates here (its queued
        tasks are dropped); one running (say, from one of its callbacks) terminates at the end
        of the turn. A library-driven loop: :meth:`shutdown_now`, then waits for its thread
        (unless called on it). Idempotent."""

    def set_exception_handler(self, handler: _ExceptionHandler | None) -> None:
        """Sets the handler for exceptions raised by callbacks that have no future (tasks,
        watch and done callbacks): ``handler(loop, context)`` on the loop's thread, with
        asyncio's context keys (``message``, ``exception``, ``callback``, ``future``,
        ``watch``, ``loop``). ``None`` restores the default, which logs the context to the
        ``"nioxide"`` logger. An exception from the handler is logged."""

    def get_exception_handler(self) -> _ExceptionHandler | None:
        """The handler :meth:`set_exception_handler` set, or ``None`` (the default)."""

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """The default handler: logs ``context`` (with the exception's traceback) to the
        ``"nioxide"`` logger at ERROR level."""

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Calls the exception handler with ``context`` (as a callback failure would)."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes a caller-driven loop; shuts a library-driven one down gracefully and waits;
        exceptions propagate."""

@final
class EventLoopGroup:
    """``n`` library-driven event loops on ``n`` threads (Netty's ``EventLoopGroup``; ``None``:
    one per core; at most 4096, else :class:`InvalidArgumentError`). :meth:`next` hands them out round-robin; :meth:`execute`, :meth:`submit`
    and the ``schedule`` methods go to the next loop. Shutdown goes through each loop's phases
    (see :class:`EventLoop`). A context manager: leaving the ``with`` block shuts the group
    down gracefully and waits for its threads. A group object that is garbage-collected is shut
    down gracefully without waiting (with a ``ResourceWarning`` if its shutdown had not begun);
    groups still running at interpreter exit are shut down and joined.

    >>> import nioxide
    >>> with nioxide.EventLoopGroup(2) as group:
    ...     futures = [group.submit(pow, 2, n) for n in range(4)]
    ...     [f.result(timeout=5) for f in futures], len(group)
    ([1, 2, 4, 8], 2)
    """

    def __new__(cls, n: int | None = None) -> Self:
        """Starts ``n`` loops (``None``: one per core). Raises :class:`InvalidArgumentError`
        (``n == 0``), :class:`NioxideOSError`."""

    def next(self) -> EventLoop:
        """The next loop, round-robin (the same :class:`EventLoop` objects each time)."""

    @property
    def loops(self) -> list[EventLoop]:
        """The loops, in order."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[EventLoop]: ...
    def execute(self, callable: Callable[[Unpack[_Ts]], object], /, *args: Unpack[_Ts]) -> None:
        """:meth:`EventLoop.execute` on :meth:`next`."""

    def submit(self, callable: Callable[[Unpack[_Ts]], _T], /, *args: Unpack[_Ts]) -> Future[_T]:
        """:meth:`EventLoop.submit` on :meth:`next`."""

    def schedule(
        self, delay: float, callable: Callable[[Unpack[_Ts]], _T], /, *args: Unpack[_Ts]
    ) -> ScheduledFuture[_T]:
        """:meth:`EventLoop.schedule` on :meth:`next`."""

    def schedule_at_fixed_rate(
        self,
        initial_delay: float,
        period: float,
        callable: Callable[[Unpack[_Ts]], object],
        /,
        *args: Unpack[_Ts],
    ) -> ScheduledFuture[None]:
        """:meth:`EventLoop.schedule_at_fixed_rate` on :meth:`next`."""

    def schedule_with_fixed_delay(
        self,
        initial_delay: float,
        delay: float,
        callable: Callable[[Unpack[_Ts]], object],
        /,
        *args: Unpack[_Ts],
    ) -> ScheduledFuture[None]:
        """:meth:`EventLoop.schedule_with_fixed_delay` on :meth:`next`."""

    def set_exception_handler(self, handler: _ExceptionHandler | None) -> None:
        """:meth:`EventLoop.set_exception_handler` on every loop."""

    def shutdown_gracefully(self, quiet_period: float = 0.0, timeout: float = 15.0) -> None:
        """:meth:`EventLoop.shutdown_gracefully` on every loop; returns at once."""

    def shutdown_now(self) -> None:
        """:meth:`EventLoop.shutdown_now` on every loop."""

    def await_termination(self, timeout: float | None = None) -> bool:
        """Waits until every loop has terminated (GIL released, Ctrl-C interrupts), joins the
        threads; returns whether all terminated. Raises :class:`DeadlockError` on one of the
        group's threads."""

    def is_shutting_down(self) -> bool:
        """Whether shutdown has started."""

    def is_terminated(self) -> bool:
        """Whether every loop has terminated."""

    def close(self) -> None:
        """:meth:`shutdown_now`, then waits for the threads (unless called on one). Idempotent."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Shuts the group down gracefully and waits for its threads; exceptions propagate."""

@disjoint_base
class FutureBase(Generic[_T]):
    """The base of :class:`nioxide.Future` (see its documentation), which adds
    :class:`concurrent.futures.Future` to it: the methods here read and complete core's
    promise. Every future nioxide makes is a :class:`nioxide.Future`.

    >>> import nioxide
    >>> with nioxide.EventLoop.spawn() as loop:
    ...     future = loop.submit(divmod, 7, 2)
    ...     future.result(timeout=5)
    (3, 1)
    """

    def __new__(cls, loop: EventLoop, *_args: Any, **_kwargs: Any) -> Self:
        """A pending future whose done callbacks run on ``loop``. Further arguments are left
        to a subclass's ``__init__``."""

    def __class_getitem__(cls, item: Any) -> GenericAlias: ...
    def result(self, timeout: float | None = None) -> _T:
        """The result, waiting up to ``timeout`` seconds (``None``: forever; ``<= 0``: not at
        all). Raises the exception the operation raised, :class:`CancelledError` if it was
        cancelled, :class:`TimeoutError` if it is not done in time, :class:`DeadlockError` on
        the loop's own thread."""

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception the operation raised, or ``None`` after a result; waits as
        :meth:`result` does. Raises :class:`CancelledError` if it was cancelled."""

    def done(self) -> bool:
        """Whether the future has completed (result, exception, or cancelled)."""

    def cancelled(self) -> bool:
        """Whether the future was cancelled."""

    def running(self) -> bool:
        """Whether its operation is running: a task that has started and not finished (or
        a future marked by :meth:`set_running_or_notify_cancel`). It can no longer be
        cancelled."""

    def set_running_or_notify_cancel(self) -> bool:
        """``concurrent.futures``' executor protocol, before the caller starts the work of a
        future it completes: returns ``False`` if the future was cancelled (do not start),
        else marks it running (:meth:`cancel` now fails) and returns ``True``. Raises
        ``RuntimeError`` if it is running already, :class:`InvalidStateError` if it is done,
        :class:`InvalidArgumentError` for the future of a submitted or scheduled task."""

    def cancel(self) -> bool:
        """Cancels the future unless it completed or its operation started (a task that is
        running, a timer that fired); returns whether it is cancelled now. A cancelled task or
        timer never runs."""

    def add_done_callback(self, fn: Callable[[Self], object]) -> None:
        """Calls ``fn(future)`` once the future completes, on its loop's thread on a later turn
        (never inside this call), after the callbacks added before; in the :mod:`contextvars`
        context of this call. An exception goes to the loop's exception handler."""

    def set_result(self, result: _T) -> None:
        """Completes the future with ``result``. Raises :class:`InvalidStateError` if it is
        already done, :class:`InvalidArgumentError` for the future of a submitted or
        scheduled task (its task completes it)."""

    def set_exception(self, exception: BaseException | type[BaseException]) -> None:
        """Completes the future with ``exception`` (a class is instantiated). Raises
        :class:`InvalidStateError` if it is already done, ``TypeError`` for a non-exception,
        :class:`InvalidArgumentError` for the future of a submitted or scheduled task."""

    def get_loop(self) -> EventLoop | None:
        """The loop the future's callbacks run on, while its object lives."""

    def __await__(self) -> Generator[Any, None, _T]:
        """``await future``: see the class docs. Cancelling the awaiting task cancels the
        future."""

@disjoint_base
class ScheduledFutureBase(FutureBase[_T]):
    """The base of :class:`nioxide.ScheduledFuture`, the :class:`Future` of a scheduled task,
    with libuv's ref/unref for its timer. Only ``EventLoop.schedule*()`` makes them."""

    def __new__(cls, seed: object, *_args: Any, **_kwargs: Any) -> Self: ...

    def ref(self) -> None:
        """Makes the timer keep a ``RUN_DEFAULT`` run alive again (the default)."""

    def unref(self) -> None:
        """Makes the timer stop keeping a ``RUN_DEFAULT`` run alive; it still fires while the
        loop runs for other reasons."""

    def has_ref(self) -> bool:
        """Whether the timer keeps the loop alive."""

@final
class Watch:
    """A readiness watch on an :class:`EventLoop` (libuv's ``uv_poll_t``); see
    :meth:`EventLoop.watch`. Active until :meth:`close`, the watched channel's close (also
    from inside the callback, which is then released), or the loop's shutdown (which also
    closes a watched channel). Thread-safe."""

    @property
    def interest(self) -> int:
        """The interest ops (``OP_*``); setting it takes effect at the next turn (a waiting
        loop is woken, so readiness it has already seen is served at once). Errors as for
        :meth:`EventLoop.watch`'s ``ops``."""

    @interest.setter
    def interest(self, value: int, /) -> None: ...
    @property
    def channel(self) -> SocketChannel | ServerSocketChannel | int:
        """The watched channel object, or the descriptor number of a raw descriptor."""

    def close(self) -> None:
        """Stops watching (idempotent): the callback is dropped; a channel stays open, a
        descriptor is never closed by nioxide."""

    def is_active(self) -> bool:
        """Whether the watch is active (not closed)."""

    def ref(self) -> None:
        """Makes the watch keep a ``RUN_DEFAULT`` run alive again (the default)."""

    def unref(self) -> None:
        """Makes the watch stop keeping a ``RUN_DEFAULT`` run alive."""

    def has_ref(self) -> bool:
        """Whether the watch keeps the loop alive."""

@final
class Timer:
    """A reusable timer on an :class:`EventLoop` (libuv's ``uv_timer_t``), made by
    :meth:`EventLoop.timer` and then started, stopped and restarted as often as needed: a start
    or a stop makes no new object (unlike :meth:`EventLoop.schedule`, which makes a future per
    run).

    It fires ``timeout`` seconds after :meth:`start`, never earlier on the monotonic clock, in
    deadline order with the loop's other timers and scheduled tasks, and then every ``repeat``
    seconds if ``repeat`` is not 0. When it fires, a timer without repeat is already stopped
    and a repeating one already re-armed; then ``callback(timer, *args)`` runs on the loop's
    thread, where it may stop, restart or close its own timer. An :class:`Exception` it raises
    goes to the loop's exception handler (context keys ``message``, ``exception``,
    ``callback``, ``timer``, ``loop``) and the timer goes on; a :class:`BaseException` stops a
    caller-driven loop and propagates out of :meth:`EventLoop.run`.

    An active timer keeps a ``RUN_DEFAULT`` run alive unless :meth:`unref` is called, and its
    loop keeps it (and its callback) alive even when nothing else refers to it. :meth:`close`
    (or leaving a ``with`` block) ends it for good and drops the callback; the loop's shutdown
    stops its timers and closes them when it terminates. Every method is safe from any thread.
    On the loop's thread, and from any thread while no thread runs the loop, a start or a stop
    takes effect at once; from another thread while the loop runs, it is queued to the loop
    (which it wakes if needed) and takes effect when the loop runs it, in the order such calls
    were made, while :meth:`is_active` and :attr:`due_in` say at once what was asked for. After
    ``os.fork()`` a timer from the parent raises :class:`ForkedError` in the child.

    >>> import nioxide
    >>> with nioxide.EventLoop() as loop:
    ...     ticks = []
    ...     def tick(timer, label):
    ...         ticks.append(label)
    ...         if len(ticks) == 3:
    ...             timer.stop()
    ...     timer = loop.timer(tick, "tick")
    ...     timer.start(0.01, repeat=0.01)
    ...     loop.run()
    ...     ticks
    False
    ['tick', 'tick', 'tick']
    """

    def start(self, timeout: float, repeat: float = 0.0) -> None:
        """Arms the timer to fire ``timeout`` seconds from now (``<= 0``: on the next turn), then
        every ``repeat`` seconds after each expiry unless ``repeat`` is 0 (libuv's
        ``uv_timer_start``). Starting an active timer re-arms it with the new values. The
        timeout is kept exact however long (one beyond the monotonic clock's range, about 292
        billion years, never fires); a ``repeat`` longer than a century is a century. Raises
        :class:`InvalidStateError` (closed; the loop's termination closes its timers),
        :class:`RejectedExecutionError` (the loop is shutting down, from another thread),
        :class:`InvalidArgumentError` (NaN, a negative ``repeat``), :class:`ForkedError`."""

    def stop(self) -> None:
        """Disarms the timer (libuv's ``uv_timer_stop``); stopping a stopped timer does nothing.
        From another thread while the loop runs, the stop is queued to the loop, yet no expiry
        starts once it returned (a callback already running for this expiry still finishes).
        Raises :class:`InvalidStateError` (closed), :class:`ForkedError`."""

    def again(self) -> None:
        """Restarts a repeating timer with :attr:`repeat` as the timeout (libuv's
        ``uv_timer_again``); a timer whose repeat is 0 is left as it is. Raises as
        :meth:`start`."""

    @property
    def repeat(self) -> float:
        """The repeat in seconds (0.0: none). Setting it changes the timer from its next expiry
        on (or for :meth:`again`), without re-arming it; raises as :meth:`start`."""

    @repeat.setter
    def repeat(self, value: float, /) -> None: ...
    @property
    def due_in(self) -> float | None:
        """Seconds until the timer fires (0.0 if it is due), or ``None`` if it is not active."""

    def is_active(self) -> bool:
        """Whether the timer is armed: started, and neither stopped nor expired without a
        repeat."""

    def ref(self) -> None:
        """Makes the timer keep a ``RUN_DEFAULT`` run alive while active again (the default)."""

    def unref(self) -> None:
        """Makes the timer stop keeping a ``RUN_DEFAULT`` run alive; it still fires while the
        loop runs for other reasons."""

    def has_ref(self) -> bool:
        """Whether the timer keeps the loop alive while active."""

    def close(self) -> None:
        """Stops the timer for good and drops its callback (after it returns, if it is running
        now). Idempotent; every other call but the queries then raises
        :class:`InvalidStateError`."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the timer; exceptions propagate."""

# --- completion-handler AIO ---------------------------------------------------------------

_Handler: TypeAlias = Any
"""A completion handler: an object with ``completed(result, attachment)`` and
``failed(exc, attachment)`` (such as a :class:`nioxide.CompletionHandler`), or a
``(completed, failed)`` pair of callables."""

_Buffers: TypeAlias = BytesLike | list[BytesLike] | tuple[BytesLike, ...]

@final
class AsynchronousChannelGroup:
    """The loops that run the completion handlers of their channels (Java's
    ``AsynchronousChannelGroup``): :meth:`with_threads` starts its own, and
    :meth:`with_event_loop_group` borrows an :class:`EventLoopGroup`'s (which it never shuts
    down). A channel opened without a group goes to the process-wide :meth:`default` group
    (one loop per core, made on first use, shut down at interpreter exit).

    Handlers run on the loop a channel was given, one loop turn taking the GIL once for all
    its handlers; an exception a handler raises goes to that loop's exception handler
    (:meth:`set_exception_handler`; logged by default) and the loop goes on.

    :meth:`shutdown` refuses new channels and terminates once the last one is closed;
    :meth:`shutdown_now` also closes every channel (their pending operations fail with
    :class:`AsynchronousCloseError`, once each, on the group's threads, before termination).
    A context manager: leaving the ``with`` block shuts down now and waits for termination.
    A group garbage-collected before its shutdown is shut down now with a ``ResourceWarning``.

    The :meth:`default` group cannot be shut down: it serves every channel opened without a
    group, in every library of the process, and lives until interpreter exit (Java's default
    group, which no user code can even reach). :meth:`shutdown`, :meth:`shutdown_now`,
    :meth:`await_termination` without a timeout and leaving a ``with`` block raise
    :class:`UnsupportedOperationError` on it and leave it running.

    >>> import nioxide
    >>> with nioxide.AsynchronousChannelGroup.with_threads(1) as group:
    ...     group.is_shutdown()
    False
    >>> group.is_terminated()
    True
    """

    @staticmethod
    def with_threads(n: int | None = None) -> AsynchronousChannelGroup:
        """A group of ``n`` new loops (``None``: one per core), which it owns. Raises
        :class:`InvalidArgumentError` (``n == 0``), :class:`NioxideOSError`."""
    @staticmethod
    def with_event_loop_group(group: EventLoopGroup) -> AsynchronousChannelGroup:
        """A group over ``group``'s loops, which it borrows: its shutdown never shuts them down
        (when they shut down, the channels on them are closed)."""
    @staticmethod
    def default() -> AsynchronousChannelGroup:
        """The process-wide default group (made on first use; one loop per core). It cannot
        be shut down (:class:`UnsupportedOperationError`); interpreter exit shuts it down."""
    @property
    def loops(self) -> list[EventLoop]:
        """The :class:`EventLoop` objects of the group's loops."""
    @property
    def event_loop_group(self) -> EventLoopGroup | None:
        """The borrowed :class:`EventLoopGroup`, or ``None`` for a group that owns its loops."""
    def set_exception_handler(
        self, handler: Callable[[EventLoop, dict[str, Any]], object] | None
    ) -> None:
        """Sets the exception handler of every loop of the group (see
        :meth:`EventLoop.set_exception_handler`); a handler's exception reaches it with the
        context keys ``message``, ``exception``, ``handler`` and ``loop``."""
    def shutdown(self) -> None:
        """Refuses new channels (:class:`ShutdownChannelGroupError`); the group terminates
        once its channels are closed. Idempotent. Raises :class:`UnsupportedOperationError`
        on the :meth:`default` group."""
    def shutdown_now(self) -> None:
        """Shuts down and closes every channel of the group. Idempotent. Raises
        :class:`UnsupportedOperationError` on the :meth:`default` group."""
    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` or :meth:`shutdown_now` was called."""
    def is_terminated(self) -> bool:
        """Whether the group is shut down, its channels are closed and their operations have
        reported (and, if it owns them, its loops have terminated)."""
    def open_channels(self) -> int:
        """How many channels of the group are open."""
    def await_termination(self, timeout: float | None = None) -> bool:
        """Waits (GIL released; Ctrl-C interrupts) until terminated or ``timeout`` seconds
        have passed (``None``: forever); returns whether it terminated. Raises
        :class:`DeadlockError` on one of the group's threads, and
        :class:`UnsupportedOperationError` for ``timeout=None`` on the :meth:`default` group
        (which would never terminate)."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Shuts down now and, unless on one of the group's threads, waits for termination.
        Raises :class:`UnsupportedOperationError` on the :meth:`default` group."""

@final
class AsynchronousServerSocketChannel:
    """An asynchronous TCP listener (Java's ``AsynchronousServerSocketChannel``) in a group.

    :meth:`accept` with a handler calls ``completed(channel, attachment)`` with the accepted
    :class:`AsynchronousSocketChannel` (on the group's next loop); without one it returns a
    :class:`Future` of that channel. One accept may be pending. A context manager; close is
    idempotent; a listener garbage-collected open is closed with a ``ResourceWarning``.
    """

    @staticmethod
    def open(
        group: AsynchronousChannelGroup | None = None, family: int | None = None
    ) -> AsynchronousServerSocketChannel:
        """Opens an unbound listener in ``group`` (``None``: the default group);
        ``family`` as :class:`ServerSocketChannel`'s. Raises
        :class:`ShutdownChannelGroupError`, :class:`NioxideOSError`."""
    def bind(self, address: _Address, backlog: int = 0) -> None:
        """Binds to ``address`` (port 0 picks a free port) and listens with ``backlog`` (0 or
        less: the system default). Raises :class:`AlreadyBoundError`,
        :class:`NioxideOSError`."""
    def accept(
        self, attachment: Any = None, handler: _Handler | None = None
    ) -> Future[AsynchronousSocketChannel] | None:
        """Accepts a connection: with ``handler``, returns ``None`` and calls it later; without,
        returns a future (cancelling it fails the accept with :class:`CancelledError`). Raises
        at the call, never calling the handler: :class:`AcceptPendingError`,
        :class:`NotYetBoundError`, :class:`ClosedChannelError`, ``TypeError`` (not a
        handler)."""
    def set_option(self, opt: int, value: int) -> None:
        """Sets a socket option (``SO_*``)."""
    def get_option(self, opt: int) -> int:
        """Reads a socket option."""
    def supported_options(self) -> list[int]:
        """The options this channel supports."""
    @property
    def local_address(self) -> _Address | None:
        """The bound address, ``None`` before :meth:`bind`."""
    def is_open(self) -> bool:
        """Whether the listener is open."""
    def close(self) -> None:
        """Closes the listener (returns at once): a pending accept fails with
        :class:`AsynchronousCloseError`."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the listener; exceptions propagate."""

@final
class AsynchronousSocketChannel:
    """An asynchronous TCP connection (Java's ``AsynchronousSocketChannel``) in a group.

    Each operation takes an optional ``attachment`` and ``handler``: with a handler it returns
    ``None`` and calls ``handler.completed(result, attachment)`` or
    ``handler.failed(exc, attachment)`` exactly once, later, on the channel's loop thread
    (never inside the call); without one it returns a :class:`Future` of the result, usable
    with ``result()`` and ``await`` (an attachment without a handler is a ``TypeError``). A
    call that raises never calls its handler.

    Buffers are borrowed through the buffer protocol until the handler starts or the future
    completes (a ``bytearray`` cannot be resized meanwhile: ``BufferError``), and never
    copied: a read takes a writable one (``bytearray``, ``memoryview``, ``mmap``), a write any
    bytes-like object; a list or tuple of them is a scattering read or gathering write.

    One read and one write may be pending at a time (a second raises
    :class:`ReadPendingError` / :class:`WritePendingError`). A read completes with the count,
    or -1 at end of stream (as Java); a raw write may complete short, :meth:`write_all` never
    does. ``timeout`` (seconds; ``None`` or ``<= 0``: none) fails an operation still pending
    then with :class:`TimeoutError`, having moved no bytes; that direction, like one whose
    future was cancelled, then raises :class:`DirectionDisabledError` at the call.
    :meth:`close` fails every pending operation with :class:`AsynchronousCloseError`, once.
    A context manager; a channel garbage-collected open is closed with a ``ResourceWarning``.
    """

    @staticmethod
    def open(
        group: AsynchronousChannelGroup | None = None, family: int | None = None
    ) -> AsynchronousSocketChannel:
        """Opens an unconnected channel in ``group`` (``None``: the default group). Raises
        :class:`ShutdownChannelGroupError`, :class:`NioxideOSError`."""
    def bind(self, address: _Address) -> None:
        """Binds the local side before connecting."""
    def connect(
        self,
        address: _Address,
        attachment: Any = None,
        handler: _Handler | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[None] | None:
        """Connects; the result is ``None``. A failed, timed-out or cancelled connect closes
        the channel. Raises at the call: :class:`AlreadyConnectedError`,
        :class:`ConnectionPendingError`, :class:`ClosedChannelError`."""
    def read(
        self,
        buffer: _Buffers,
        attachment: Any = None,
        handler: _Handler | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[int] | None:
        """Reads into ``buffer`` (or a list of buffers, filled in order): the count, 0 for an
        empty buffer, -1 at end of stream. Raises at the call: :class:`ReadPendingError`,
        :class:`DirectionDisabledError`, :class:`NotYetConnectedError`,
        :class:`ClosedChannelError`, ``TypeError`` (``bytes``, not a handler)."""
    def write(
        self,
        buffer: _Buffers,
        attachment: Any = None,
        handler: _Handler | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[int] | None:
        """Writes what the socket takes now from ``buffer`` (or a list of buffers, sent in
        order): the count, which may be short. Never raises ``SIGPIPE``. Raises at the call:
        :class:`WritePendingError` (also while :meth:`write_all` writes are queued),
        :class:`DirectionDisabledError`, :class:`ChannelShutdownError`, the error that
        failed an earlier write, :class:`NotYetConnectedError`, :class:`ClosedChannelError`."""
    def write_all(
        self, buffer: _Buffers, attachment: Any = None, handler: _Handler | None = None
    ) -> Future[int] | None:
        """Queues ``buffer`` to be written in full after every write queued before: the
        result is its whole length. Queued writes leave in order, several per system call. A
        send error fails the write being sent and every queued one, once each, in order. Its
        future cannot be cancelled. Raises at the call: :class:`WriteQueueFullError` (the
        queued bytes would pass the cap, policy ``"fail"``), :class:`ClosedChannelError`
        (policy ``"close"``: the channel was closed), and as :meth:`write`."""
    def set_write_queue_cap(self, cap: int, policy: str = "fail") -> None:
        """Sets the cap on bytes queued by :meth:`write_all` and not yet sent (default 64 MiB)
        and what a write that would pass it does: ``"fail"`` (raise
        :class:`WriteQueueFullError`) or ``"close"`` (close the channel). A write larger than
        the cap is taken into an empty queue."""
    @property
    def queued_bytes(self) -> int:
        """Bytes queued by :meth:`write_all` and not yet sent."""
    def shutdown_input(self) -> None:
        """Shuts down the input: reads complete with -1."""
    def shutdown_output(self) -> None:
        """Shuts down the output once the pending and queued writes have left; later writes
        raise :class:`ChannelShutdownError`."""
    def set_option(self, opt: int, value: int) -> None:
        """Sets a socket option (``SO_*``, ``TCP_*``)."""
    def get_option(self, opt: int) -> int:
        """Reads a socket option."""
    def supported_options(self) -> list[int]:
        """The options this channel supports."""
    @property
    def local_address(self) -> _Address | None:
        """The local address, ``None`` before bind or connect."""
    @property
    def remote_address(self) -> _Address | None:
        """The peer's address, ``None`` while not connected."""
    def fileno(self) -> int:
        """The descriptor (-1 once closed); do no I/O on it."""
    def is_open(self) -> bool:
        """Whether the channel is open."""
    def close(self) -> None:
        """Closes the channel (returns at once); pending operations fail with
        :class:`AsynchronousCloseError` on the loop's thread. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the channel; exceptions propagate."""

@final
class AsynchronousFileChannel:
    """A file with asynchronous positional reads and writes (Java's
    ``AsynchronousFileChannel``), run on its group's small pool of blocking threads and
    reported on the channel's loop thread. Handlers, attachments, futures and buffers as
    :class:`AsynchronousSocketChannel`'s; any number of operations may be pending. A read
    at or past the end completes with -1. Positions and sizes are non-negative
    (:class:`InvalidArgumentError`, a ``ValueError``, otherwise). :meth:`size`,
    :meth:`truncate`, :meth:`force` and :meth:`try_lock` are synchronous, as in Java.
    A context manager; one garbage-collected open is closed with a ``ResourceWarning``.
    """

    @staticmethod
    def open(
        path: str | os.PathLike[str],
        *options: str,
        group: AsynchronousChannelGroup | None = None,
    ) -> AsynchronousFileChannel:
        """Opens ``path`` with ``options`` (:class:`nioxide.StandardOpenOption` or its
        values: ``"read"``, ``"write"``, ``"create"``, ``"create_new"``,
        ``"truncate_existing"``; none: read) in ``group`` (``None``: the default group).
        Raises :class:`InvalidArgumentError` (no read or write; create or truncate without
        write), :class:`ShutdownChannelGroupError`, ``OSError`` (``ENOENT``, ``EEXIST``,
        ``EACCES``)."""
    def read(
        self,
        buffer: BytesLike,
        position: int,
        attachment: Any = None,
        handler: _Handler | None = None,
    ) -> Future[int] | None:
        """Reads into ``buffer`` (one buffer: a list raises :class:`InvalidArgumentError`)
        from ``position``: the count, or -1 at or past the end."""
    def write(
        self,
        buffer: BytesLike,
        position: int,
        attachment: Any = None,
        handler: _Handler | None = None,
    ) -> Future[int] | None:
        """Writes ``buffer`` at ``position`` (past the end, the gap reads as zeros): the
        count. A file opened read-only fails with ``OSError`` (``EBADF``)."""
    def size(self) -> int:
        """The file's size."""
    def truncate(self, size: int) -> None:
        """Cuts the file to ``size`` bytes (a larger size changes nothing)."""
    def force(self, metadata: bool = False) -> None:
        """Writes the file's data (and with ``metadata`` its metadata) to the device."""
    def lock(
        self,
        position: int = 0,
        size: int = 0,
        shared: bool = False,
        attachment: Any = None,
        handler: _Handler | None = None,
    ) -> Future[FileLock] | None:
        """Takes a lock on ``size`` bytes at ``position`` (``size`` 0: to the end of the file,
        however it grows), shared or exclusive, waiting while another open file (also one of
        this process) holds a conflicting one; the result is the :class:`FileLock`. Its future
        cannot cancel the wait. Raises :class:`OverlappingFileLockError` at the call if a lock
        held or waited for through this channel overlaps the region (Java's rule)."""
    def try_lock(
        self, position: int = 0, size: int = 0, shared: bool = False
    ) -> FileLock | None:
        """Takes a lock now, or returns ``None`` if a conflicting one is held elsewhere. Raises
        :class:`OverlappingFileLockError` if a lock held or waited for through this channel
        overlaps the region."""
    def is_open(self) -> bool:
        """Whether the channel is open."""
    def close(self) -> None:
        """Closes the channel: pending operations (waiting locks too) fail with
        :class:`AsynchronousCloseError`; its locks are released. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the channel; exceptions propagate."""

@final
class FileLock:
    """A lock on a region of a file (Java's ``FileLock``), released by :meth:`release`, by
    leaving a ``with`` block, or when its channel closes. Open-file-description locks: two
    channels of one process conflict."""

    @property
    def position(self) -> int:
        """Where the locked region starts."""
    @property
    def size(self) -> int:
        """The region's size (0: to the end of the file)."""
    def is_shared(self) -> bool:
        """Whether the lock is shared."""
    def is_valid(self) -> bool:
        """Whether the lock is held (not released, channel open)."""
    def release(self) -> None:
        """Releases the lock (idempotent)."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Releases the lock; exceptions propagate."""

# --- the channel pipeline (Netty's model) ---------------------------------------------------
#
# Handlers (nioxide.ChannelInboundHandler and its kin, in nioxide/_pipeline.py) run on their
# channel's loop thread; an event a handler's class does not override passes it by in the
# Rust core. A write takes bytes, bytearray, memoryview (copied at the call), a Buffer
# (shared) or, between Python handlers, any object. Writes without a promise make none; a
# promise comes from new_promise() and is returned by the call it is passed to.

_Address: TypeAlias = tuple[str, int] | tuple[str, int, int, int] | str
"""A TCP address (``(host, port)``, IPv6 ``(host, port, flowinfo, scope_id)``) or a local
channel's name."""

_HANDLER_METHODS: Final[dict[str, int]]
_CHANNEL_OPTIONS: Final[list[str]]

@final
class Buffer:
    """A read-only byte buffer: what a read delivers (Netty's ``ByteBuf``, without reference
    counting). Bytes-like through the buffer protocol (``bytes(msg)``, ``memoryview(msg)``,
    ``msg == b"..."``, ``len(msg)``); it owns its bytes, so a :class:`memoryview` of it stays
    valid after the callback that received it. Writing a buffer shares its bytes (no copy).

    >>> import nioxide
    >>> msg = nioxide.Buffer(b"hello world")
    >>> len(msg), bytes(msg.slice(0, 5)), memoryview(msg)[6:].tobytes(), msg == b"hello world"
    (11, b'hello', b'world', True)
    """

    def __new__(cls, data: BytesLike) -> Self:
        """A buffer holding a copy of ``data``."""

    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def __buffer__(self, flags: int, /) -> memoryview:
        """A read-only export of the bytes (a writable request raises ``BufferError``)."""

    def __getitem__(self, key: int | slice, /) -> Any:
        """The byte at an index (an ``int``), or a copy of a slice (``bytes``)."""

    def __eq__(self, value: object, /) -> bool: ...
    def slice(self, start: int = 0, stop: int | None = None) -> Buffer:
        """A buffer over ``[start:stop]`` of these bytes, sharing them (no copy)."""

    def tobytes(self) -> bytes:
        """A copy of the bytes."""

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The bytes decoded, as ``bytes.decode``."""

@final
class OpaqueMessage:
    """A message another binding (C) put into a pipeline: Python can only pass it on."""

@final
class UserEvent:
    """A built-in user event: :data:`CHANNEL_INPUT_SHUTDOWN`,
    :data:`CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE` or :data:`CHANNEL_OUTPUT_SHUTDOWN` (compare
    with ``is``). Handlers fire their own events with any object."""

    @property
    def name(self) -> str:
        """The constant's name."""

    def __reduce__(self) -> str: ...

CHANNEL_INPUT_SHUTDOWN: Final[UserEvent]
"""The input side was shut down (end of stream with ``ALLOW_HALF_CLOSURE``, or
:meth:`Channel.shutdown_input`); the channel stays open and writable (Netty's
``ChannelInputShutdownEvent.INSTANCE``)."""
CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE: Final[UserEvent]
"""The read batch that saw the input shut down has completed (after
:data:`CHANNEL_INPUT_SHUTDOWN`; Netty's ``ChannelInputShutdownReadComplete.INSTANCE``)."""
CHANNEL_OUTPUT_SHUTDOWN: Final[UserEvent]
"""The output side was shut down (:meth:`Channel.shutdown_output`; Netty's
``ChannelOutputShutdownEvent.INSTANCE``)."""

@disjoint_base
class Channel:
    """A pipeline channel (Netty's ``Channel``): a connection or listener on one event loop
    for its whole life, with a :class:`ChannelPipeline` of handlers. Its kinds are
    :class:`TcpChannel`, :class:`TcpServerChannel`, :class:`LocalChannel` and
    :class:`LocalServerChannel` (an :class:`EmbeddedChannel`'s channel is a plain
    ``Channel``). Bootstraps make them; :meth:`TcpChannel.open` and its kin make one by hand.

    Events come in this order, each at most once: ``channel_registered``, ``channel_active``,
    reads and read completes, ``channel_inactive`` (only after active),
    ``channel_unregistered``, then ``handler_removed`` from tail to head, then
    :attr:`close_future` completes. Every method may be called from any thread: on the
    loop's thread an operation runs the handlers inside the call, from another thread it is
    queued to the loop and keeps its order. Close is safe from anywhere, inside a handler
    too.

    Per-channel state goes in attributes (``ch.requests = 0``): one object per channel,
    kept while the channel is open (after its close, while you hold it).
    """

    def __new__(cls) -> Self:
        """Raises ``TypeError``: bootstraps make channels (or :meth:`TcpChannel.open`)."""

    @property
    def id(self) -> int:
        """A number naming the channel, unique in the process."""

    @property
    def event_loop(self) -> Any:
        """The :class:`EventLoop` the channel belongs to (an embedded channel's is its own,
        on its virtual clock)."""

    @property
    def parent(self) -> Channel | None:
        """The server channel that accepted this one, if any."""

    @property
    def pipeline(self) -> ChannelPipeline:
        """The channel's pipeline."""

    @property
    def local_address(self) -> _Address | None:
        """The local address, if bound."""

    @property
    def remote_address(self) -> _Address | None:
        """The peer's address, if connected."""

    @property
    def close_future(self) -> ChannelFuture[None]:
        """Completes (with ``None``) once the channel is closed and torn down: after
        ``channel_unregistered`` and every ``handler_removed``."""

    def is_open(self) -> bool:
        """Whether the channel is open (not closed yet)."""

    def is_active(self) -> bool:
        """Whether the channel is connected (bound, for a server) and open."""

    def is_registered(self) -> bool:
        """Whether the channel is registered with its loop."""

    def is_writable(self) -> bool:
        """Whether a write now would be queued within the high water mark: ``False`` from the
        moment the queued bytes pass the high mark until they drop below the low mark (then
        ``channel_writability_changed`` follows, once per crossing), and once closed."""

    def bytes_before_unwritable(self) -> int:
        """How many bytes may be queued before the channel becomes unwritable (0 if it is)."""

    def bytes_before_writable(self) -> int:
        """How many queued bytes must drain before it becomes writable again (0 if it is)."""

    def queued_bytes(self) -> int:
        """The bytes queued for writing (each message with a fixed per-entry overhead)."""

    def set_option(self, name: str, value: Any) -> None:
        """Sets an option by Netty's name (:class:`nioxide.ChannelOption`). Switching
        ``AUTO_READ`` on asks for a read. Raises :class:`InvalidArgumentError` (an unknown
        name, water marks with ``low > high``), :class:`UnsupportedOptionError` (a socket
        option on a channel without a socket), ``TypeError`` (a value of the wrong type)."""

    def get_option(self, name: str) -> Any:
        """An option's value (``SO_BACKLOG`` cannot be read: :class:`UnsupportedOptionError`)."""

    def new_promise(self) -> ChannelFuture[None]:
        """A new promise for an operation (``write(msg, promise)``), which the operation
        completes; its done callbacks run on the channel's loop."""

    def register(self) -> ChannelFuture[None]:
        """Registers the channel with its loop (fires ``channel_registered``)."""

    def bind(self, local: _Address) -> ChannelFuture[None]:
        """Binds through the pipeline (from the tail)."""

    def connect(self, remote: _Address) -> ChannelFuture[None]:
        """Connects through the pipeline (from the tail). A refused or timed-out connect fails
        the future (:class:`ConnectionRefusedError`, :class:`TimeoutError`) and closes the
        channel without it ever becoming active."""

    def close(self) -> ChannelFuture[None]:
        """Closes the channel (through the pipeline, from the tail); idempotent. Queued writes
        fail with :class:`ClosedChannelError`. The future completes with the close future."""

    def read(self) -> None:
        """Asks for a read batch (with ``AUTO_READ`` off: one batch per call, coalesced)."""

    @overload
    def write(self, msg: Any, promise: None = None) -> None:
        """Writes ``msg`` through the pipeline; it waits in the outbound buffer until a
        flush. Its bytes are counted at the call, from any thread. ``promise`` (returned)
        completes once the bytes are handed to the kernel, or fails once (a close:
        :class:`ClosedChannelError`; a reset: :class:`ConnectionResetError`; past the hard cap:
        ``ENOBUFS``). Without a promise a failure fires the exception event."""

    @overload
    def write(self, msg: Any, promise: ChannelFuture[None]) -> ChannelFuture[None]: ...

    def flush(self) -> None:
        """Flushes what was written."""

    @overload
    def write_and_flush(self, msg: Any, promise: None = None) -> None:
        """:meth:`write`, then :meth:`flush`."""

    @overload
    def write_and_flush(self, msg: Any, promise: ChannelFuture[None]) -> ChannelFuture[None]: ...

    def shutdown_output(self) -> ChannelFuture[None]:
        """Shuts the output down (TCP: a half-close; the peer reads end of stream); fires
        :data:`CHANNEL_OUTPUT_SHUTDOWN`. Queued writes fail."""

    def shutdown_input(self) -> ChannelFuture[None]:
        """Shuts the input down: reading stops; fires :data:`CHANNEL_INPUT_SHUTDOWN`."""

    def schedule(
        self, delay: float, callable: Callable[[Unpack[_Ts]], object], /, *args: Unpack[_Ts]
    ) -> Future[None]:
        """Runs ``callable(*args)`` on the channel's loop after ``delay`` seconds (an
        :class:`EmbeddedChannel`'s: on its virtual clock). Cancel it through the future; an
        exception goes to the loop's exception handler."""

    def _close_when(self, future: Future[Any], on_failure: bool) -> None: ...
    def __getattr__(self, name: str) -> Any:
        """Per-channel state: any attribute set on the channel (``ch.requests = 0``)."""

    def __setattr__(self, name: str, value: Any, /) -> None: ...

    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TcpChannel(Channel):
    """A TCP connection of the pipeline model (not the Selector model's
    :class:`SocketChannel`): reads deliver :class:`Buffer` messages, a write takes bytes."""

    @staticmethod
    def open(event_loop: EventLoop) -> Channel:
        """A new, unregistered channel on ``event_loop``: :meth:`~Channel.register` it, set
        its pipeline up, then :meth:`~Channel.connect`."""

@final
class TcpServerChannel(Channel):
    """A TCP listener of the pipeline model: each accepted connection arrives as a
    :class:`TcpChannel` message in ``channel_read`` (a :class:`ServerBootstrap` sets it up)."""

    @staticmethod
    def open(event_loop: EventLoop) -> Channel:
        """A new, unregistered listener on ``event_loop`` (accepted channels stay on it)."""

@final
class LocalChannel(Channel):
    """An in-memory connection to a :class:`LocalServerChannel` of the same process; any
    object may cross. Delivery happens on a later turn of the peer's loop. Unlike Netty's,
    the peer queues at most 128 KiB; beyond that writes wait in the writer's outbound buffer
    (so writability and backpressure work as on TCP)."""

    @staticmethod
    def open(event_loop: EventLoop) -> Channel:
        """A new, unregistered channel on ``event_loop``."""

@final
class LocalServerChannel(Channel):
    """An in-memory listener bound to a name (a ``str`` address) in a process-wide
    registry. Its auto-read gates accepting, as on TCP: with ``AUTO_READ`` off, new
    connections wait (their clients are connected already) until :meth:`~Channel.read`."""

    @staticmethod
    def open(event_loop: EventLoop) -> Channel:
        """A new, unregistered listener on ``event_loop``."""

@final
class ChannelPipeline:
    """A channel's ordered list of named handlers between its head and tail (Netty's
    ``ChannelPipeline``). Changes may come from any thread and from inside a handler: an
    added handler gets ``handler_added`` before any event, a removed one no event after its
    ``handler_removed``. A handler added without a name is named after its class
    (``"Echo#0"``). Inbound events fired here start at the head, outbound operations at the
    tail.

    >>> import nioxide
    >>> class Upper(nioxide.ChannelInboundHandler):
    ...     def channel_read(self, ctx, msg):
    ...         ctx.fire_channel_read(msg.decode().upper())
    >>> ch = nioxide.EmbeddedChannel()
    >>> ch.pipeline.add_last(Upper()).add_first(nioxide.ChannelInboundHandler(), "plain").names()
    ['plain', 'Upper#0']
    >>> ch.write_inbound(b"hi"), ch.read_inbound()
    (True, 'HI')
    >>> ch.finish()
    False
    """

    @property
    def channel(self) -> Channel:
        """The channel."""

    def add_first(self, handler: Any, name: str | None = None) -> Self:
        """Adds ``handler`` right after the head; returns the pipeline. Raises
        :class:`InvalidArgumentError` (the name is taken; a handler that is not sharable was
        added before), ``TypeError`` (not a handler), :class:`ClosedChannelError`."""

    def add_last(self, handler: Any, name: str | None = None) -> Self:
        """Adds ``handler`` right before the tail; raises as :meth:`add_first`."""

    def add_before(self, base: str, handler: Any, name: str | None = None) -> Self:
        """Adds ``handler`` before the handler named ``base``; raises as :meth:`add_first`
        (and if there is no ``base``)."""

    def add_after(self, base: str, handler: Any, name: str | None = None) -> Self:
        """Adds ``handler`` after the handler named ``base``."""

    def remove(self, key: Any) -> Any:
        """Removes the handler ``key`` names (its name, or the handler itself) and returns it
        (``None`` for a handler that is not Python's). Raises :class:`InvalidArgumentError`
        if there is none."""

    def replace(self, old: Any, handler: Any, name: str | None = None) -> Any:
        """Puts ``handler`` in the place of ``old`` (a name or a handler); the new one's
        ``handler_added`` runs before the old one's ``handler_removed``. Returns the old one."""

    def get(self, name: str) -> Any:
        """The handler named ``name`` (``None`` if there is none, or it is not Python's)."""

    def context(self, key: Any) -> ChannelHandlerContext | None:
        """The context of the handler ``key`` names (its name, or the handler itself)."""

    def names(self) -> list[str]:
        """The handlers' names, head to tail (head and tail themselves not included)."""

    def first(self) -> Any:
        """The first handler (``None`` if empty or not Python's)."""

    def last(self) -> Any:
        """The last handler (``None`` if empty or not Python's)."""

    def __len__(self) -> int: ...
    def __contains__(self, key: Any, /) -> bool: ...
    def fire_channel_registered(self) -> None: ...
    def fire_channel_unregistered(self) -> None: ...
    def fire_channel_active(self) -> None: ...
    def fire_channel_inactive(self) -> None: ...
    def fire_channel_read(self, msg: Any) -> None: ...
    def fire_channel_read_complete(self) -> None: ...
    def fire_user_event_triggered(self, event: Any) -> None: ...
    def fire_channel_writability_changed(self) -> None: ...
    def fire_exception_caught(self, exception: BaseException | type[BaseException]) -> None: ...
    def bind(
        self, local: _Address, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None: ...
    def connect(
        self,
        remote: _Address,
        local: _Address | None = None,
        promise: ChannelFuture[None] | None = None,
    ) -> ChannelFuture[None] | None: ...
    def disconnect(self, promise: ChannelFuture[None] | None = None) -> ChannelFuture[None] | None: ...
    def close(self, promise: ChannelFuture[None] | None = None) -> ChannelFuture[None] | None: ...
    def read(self) -> None: ...
    def write(
        self, msg: Any, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None: ...
    def flush(self) -> None: ...
    def write_and_flush(
        self, msg: Any, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None: ...

@final
class ChannelHandlerContext:
    """A handler's place in its pipeline (Netty's ``ChannelHandlerContext``): ``fire_*``
    passes an inbound event to the next handler towards the tail, an outbound operation goes
    to the next handler towards the head. On the loop's thread the next handler runs inside
    the call; from another thread the call is queued (and keeps its order). Outbound calls
    take an optional promise and return it."""

    @property
    def name(self) -> str:
        """The handler's name in the pipeline."""

    @property
    def channel(self) -> Channel:
        """The channel."""

    @property
    def pipeline(self) -> ChannelPipeline:
        """The channel's pipeline."""

    @property
    def executor(self) -> Any:
        """The :class:`EventLoop` the handler runs on (the channel's ``event_loop``)."""

    @property
    def handler(self) -> Any:
        """The handler (``None`` once removed, or for a handler that is not Python's)."""

    def is_removed(self) -> bool:
        """Whether the handler left the pipeline."""

    def new_promise(self) -> ChannelFuture[None]:
        """A new promise of the channel (see :meth:`Channel.new_promise`)."""

    def fire_channel_registered(self) -> None: ...
    def fire_channel_unregistered(self) -> None: ...
    def fire_channel_active(self) -> None: ...
    def fire_channel_inactive(self) -> None: ...
    def fire_channel_read(self, msg: Any) -> None:
        """Passes a message on (any object; bytes-like ones become a :class:`Buffer`)."""

    def fire_channel_read_complete(self) -> None: ...
    def fire_user_event_triggered(self, event: Any) -> None: ...
    def fire_channel_writability_changed(self) -> None: ...
    def fire_exception_caught(self, exception: BaseException | type[BaseException]) -> None:
        """Passes an exception on (a class is instantiated); at the tail it goes to the
        loop's exception handler."""

    def bind(
        self, local: _Address, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None: ...
    def connect(
        self,
        remote: _Address,
        local: _Address | None = None,
        promise: ChannelFuture[None] | None = None,
    ) -> ChannelFuture[None] | None: ...
    def disconnect(self, promise: ChannelFuture[None] | None = None) -> ChannelFuture[None] | None: ...
    def close(self, promise: ChannelFuture[None] | None = None) -> ChannelFuture[None] | None:
        """Closes the channel, from this handler towards the head."""

    def read(self) -> None: ...
    def write(
        self, msg: Any, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None:
        """Writes towards the head (see :meth:`Channel.write`)."""

    def flush(self) -> None: ...
    def write_and_flush(
        self, msg: Any, promise: ChannelFuture[None] | None = None
    ) -> ChannelFuture[None] | None: ...

@final
class ServerBootstrap:
    """Sets server channels up (Netty's ``ServerBootstrap``): a parent group whose loops
    accept, a child group whose loops serve the accepted channels, options for each, a
    handler for the server channel and a child handler for each accepted one (a
    :class:`nioxide.ChannelInitializer`, or a sharable handler). Each setter returns the
    bootstrap.

    >>> import nioxide
    >>> class Echo(nioxide.ChannelInboundHandler):
    ...     sharable = True
    ...     def channel_read(self, ctx, msg):
    ...         ctx.write_and_flush(msg)
    >>> with nioxide.EventLoopGroup(1) as group:
    ...     bound = (nioxide.ServerBootstrap().group(group).channel(nioxide.LocalServerChannel)
    ...              .child_handler(Echo()).bind("echo-doc"))
    ...     bound.result(timeout=5)
    ...     bound.channel.local_address
    ...     bound.channel.close().result(timeout=5)
    'echo-doc'
    """

    def __new__(cls) -> Self: ...
    def group(self, parent: EventLoopGroup, child: EventLoopGroup | None = None) -> Self:
        """``parent`` accepts, ``child`` (default: ``parent``) serves accepted channels."""

    def channel(self, kind: type[Channel]) -> Self:
        """The server channel's kind: :class:`TcpServerChannel` (the default) or
        :class:`LocalServerChannel`."""

    def option(self, name: str, value: Any) -> Self:
        """An option for the server channel (:class:`nioxide.ChannelOption`)."""

    def child_option(self, name: str, value: Any) -> Self:
        """An option for each accepted channel."""

    def handler(self, handler: Any) -> Self:
        """The server channel's handler: a :class:`nioxide.ChannelInitializer`, a Python
        handler or a native one (a codec, an :class:`IdleStateHandler`, ...), added to the
        server channel's pipeline (a native one that joined a pipeline already makes
        :meth:`bind` raise :class:`InvalidArgumentError`). Raises ``TypeError`` for anything
        else."""

    def child_handler(self, handler: Any) -> Self:
        """Each accepted channel's handler: a :class:`nioxide.ChannelInitializer` (its
        ``init_channel`` runs on the channel's loop, on several loops at once) or a handler
        whose class sets ``sharable = True``; raises :class:`InvalidArgumentError` for a Python
        handler that is not sharable. A native handler (a codec, an
        :class:`IdleStateHandler`, ...) is taken but joins one pipeline only, the first
        accepted channel's: the next accepted channel's add raises
        :class:`InvalidArgumentError` (that channel is closed, the error goes to its loop's
        exception handler); give a :class:`nioxide.ChannelInitializer` that makes one per
        channel instead."""

    def bind(self, local: _Address) -> ChannelFuture[None]:
        """Makes, registers and binds a server channel; the future (whose ``channel`` is the
        server channel) completes once it is bound. Raises :class:`InvalidArgumentError` (no
        group), OS errors opening the channel."""

@final
class Bootstrap:
    """Sets client channels up (Netty's ``Bootstrap``): a group, the kind, options and a
    handler; then :meth:`connect`."""

    def __new__(cls) -> Self: ...
    def group(self, group: EventLoopGroup) -> Self:
        """The group whose next loop each channel gets."""

    def channel(self, kind: type[Channel]) -> Self:
        """The channel's kind: :class:`TcpChannel` (the default) or :class:`LocalChannel`."""

    def option(self, name: str, value: Any) -> Self:
        """An option for the channel (:class:`nioxide.ChannelOption`)."""

    def handler(self, handler: Any) -> Self:
        """Each channel's handler: a :class:`nioxide.ChannelInitializer`, or a Python or
        native handler (a codec, an :class:`IdleStateHandler`, ...) added to the channel's
        pipeline. One that is not sharable, and every native one, serves one connect: for a
        native one, a later :meth:`connect` raises :class:`InvalidArgumentError` at the call
        (one made before the previous channel took the handler, and a Python handler's
        second connect, fail the add instead: that channel is closed, the error goes to its
        loop's exception handler). Raises ``TypeError`` for anything else."""

    def connect(self, remote: _Address) -> ChannelFuture[None]:
        """Makes, registers and connects a channel; the future (whose ``channel`` is the new
        channel) completes once it is connected. A host name is resolved off the loop's
        thread; a refused or timed-out (``CONNECT_TIMEOUT_MILLIS``) connect fails the future
        and the channel closes without ever becoming active."""

@final
class EmbeddedChannel:
    """A channel with no I/O for testing handlers (Netty's ``EmbeddedChannel``): write
    inbound messages, read what reached the tail and what was written. The pipeline behaves
    as on a real channel. It runs on a loop of its own driven by the thread that made it
    (use it there): the channel's ``event_loop`` and its handlers' ``ctx.executor``.
    Scheduled tasks (:meth:`Channel.schedule`, and the loop's own, as Netty's
    ``EmbeddedEventLoop``) run on a virtual clock that :meth:`advance_time_by` moves (real
    time moves it too). An exception that reached the tail is raised by the next call that
    checks (Netty's ``checkException``).

    >>> import nioxide
    >>> class Echo(nioxide.ChannelInboundHandler):
    ...     def channel_read(self, ctx, msg):
    ...         ctx.write_and_flush(msg)
    >>> ch = nioxide.EmbeddedChannel(Echo())
    >>> ch.write_inbound(b"ping")
    False
    >>> bytes(ch.read_outbound())
    b'ping'
    >>> ticks = []
    >>> _ = ch.channel.schedule(5.0, ticks.append, "tick")
    >>> ch.advance_time_by(4.0); ticks
    []
    >>> ch.advance_time_by(1.0); ticks
    ['tick']
    >>> ch.finish()
    False
    """

    def __new__(cls, *handlers: Any) -> Self:
        """A registered, active channel whose pipeline holds ``handlers`` (named
        ``handler-0``, ``handler-1``, ...)."""

    @property
    def channel(self) -> Channel:
        """The channel (its ``pipeline``, ``schedule``, attributes...)."""

    @property
    def pipeline(self) -> ChannelPipeline:
        """The channel's pipeline."""

    def write_inbound(self, *msgs: Any) -> bool:
        """Fires each message as a read, then a read complete; runs pending tasks. Returns
        whether messages wait at the tail; raises the exception that reached the tail."""

    def write_outbound(self, *msgs: Any) -> bool:
        """Writes each message through the pipeline, flushes, runs pending tasks. Returns
        whether written messages wait; raises the exception that reached the tail or the
        first write's failure."""

    def read_inbound(self) -> Any:
        """The next message that reached the tail (``None`` if there is none)."""

    def read_outbound(self) -> Any:
        """The next message written and flushed (``None`` if there is none)."""

    @property
    def inbound_count(self) -> int:
        """How many messages wait at the tail."""

    @property
    def outbound_count(self) -> int:
        """How many written messages wait."""

    def run_pending_tasks(self) -> None:
        """Runs queued work (promise listeners, writability events) and the tasks due on
        the virtual clock."""

    def advance_time_by(self, seconds: float) -> None:
        """Moves the virtual clock forward and runs what came due."""

    @property
    def virtual_time(self) -> float:
        """The virtual clock's time since the channel was made, in seconds."""

    def check_exception(self) -> None:
        """Raises the exception that reached the tail since the last check, if any (once)."""

    def finish(self) -> bool:
        """Closes the channel, runs what is pending and raises an exception that reached the
        tail; returns whether messages were left in either direction."""

    def finish_and_release_all(self) -> bool:
        """:meth:`finish`, then drops every message left."""

    def close(self) -> None:
        """Closes the channel and runs what its close queued."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Closes the channel; exceptions propagate."""

# --- handlers nioxide ships (native handlers) --------------------------------------------

@disjoint_base
class NativeHandler:
    """The base class of the handlers nioxide ships (:class:`IdleStateHandler`,
    :class:`ReadTimeoutHandler`, :class:`WriteTimeoutHandler`, and the codecs): handlers
    written in Rust. :meth:`ChannelPipeline.add_last` (and ``add_first``, ``add_before``,
    ``add_after``, ``replace``, and :class:`EmbeddedChannel`) add one as a Rust handler: its
    events never enter Python (they take no GIL), only what it fires reaches Python handlers.
    Like a Python handler that is not ``sharable``, an instance joins one pipeline, once (a
    second add raises :class:`InvalidArgumentError`; make one per channel, in the
    initializer); an add that fails leaves it free to add again. :meth:`ChannelPipeline.get`,
    :meth:`ChannelPipeline.remove` and :attr:`ChannelHandlerContext.handler` give back the
    object. Not made directly: use a subclass."""

@final
class IdleState:
    """Which kind of idleness an :class:`IdleStateEvent` reports (Netty's ``IdleState``);
    compare with ``is`` or ``==``."""

    READER_IDLE: Final[IdleState]
    """Nothing was read for the reader-idle time."""
    WRITER_IDLE: Final[IdleState]
    """No write completed for the writer-idle time."""
    ALL_IDLE: Final[IdleState]
    """Nothing was read or written for the all-idle time."""

    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...

@final
class IdleStateEvent:
    """The user event an :class:`IdleStateHandler` fires (Netty's ``IdleStateEvent``): one
    of the six singletons below, the only instances there are, so compare with ``is``::

        def user_event_triggered(self, ctx, event):
            if event is nioxide.IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT:
                ctx.close()
    """

    READER_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """A reader-idle event after the first since the last read."""
    FIRST_READER_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """The first reader-idle event since the last read (or the start)."""
    WRITER_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """A writer-idle event after the first since the last completed write."""
    FIRST_WRITER_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """The first writer-idle event since the last completed write (or the start)."""
    ALL_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """An all-idle event after the first since the last read or write."""
    FIRST_ALL_IDLE_STATE_EVENT: Final[IdleStateEvent]
    """The first all-idle event since the last read or write (or the start)."""

    @property
    def state(self) -> IdleState:
        """Which kind of idleness."""

    @property
    def is_first(self) -> bool:
        """Whether this is the first event of its kind since the last activity."""

    def __reduce__(self) -> str: ...

@final
class IdleStateHandler(NativeHandler):
    """Fires an :class:`IdleStateEvent` through ``user_event_triggered`` when the channel has
    not read for ``reader_idle_time`` seconds, no write completed for ``writer_idle_time``, or
    neither happened for ``all_idle_time`` (Netty's ``IdleStateHandler``; 0 turns a kind off;
    a time under a millisecond counts as one). While the channel stays idle the event repeats
    every period; ``is_first`` marks the first since the last activity. A read counts when
    its read batch completes; a write when it completes (a write without a promise still
    fires ``exception_caught`` if it fails). The timers are the channel's loop's (an
    :class:`EmbeddedChannel`'s virtual clock), from when the channel is active until it is
    inactive or the handler removed. A native handler (see :class:`NativeHandler`).

    With ``observe_output=True`` (Netty's ``observeOutput``) a write in progress counts as
    activity for the writer-idle and all-idle times: after the first such event, a period in
    which the channel's outbound buffer changed (bytes of its oldest message went out to the
    peer, or messages were queued or completed) fires no event. A write that moves no bytes
    for a whole period (a peer that does not read) is still idle.

    Raises :class:`InvalidArgumentError` for a negative or NaN time."""

    def __new__(
        cls,
        reader_idle_time: float,
        writer_idle_time: float,
        all_idle_time: float,
        *,
        observe_output: bool = False,
    ) -> Self: ...
    @property
    def reader_idle_time(self) -> float:
        """The reader-idle time in seconds (0: off)."""

    @property
    def writer_idle_time(self) -> float:
        """The writer-idle time in seconds (0: off)."""

    @property
    def all_idle_time(self) -> float:
        """The all-idle time in seconds (0: off)."""

    @property
    def observe_output(self) -> bool:
        """Whether a write in progress counts as activity."""

@final
class ReadTimeoutHandler(NativeHandler):
    """Closes the channel when nothing was read for ``timeout`` seconds (Netty's
    ``ReadTimeoutHandler``; 0: off): fires :class:`ReadTimeoutException` through
    ``exception_caught``, then closes the channel, once. Reads count as for
    :class:`IdleStateHandler`. A native handler (see :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for a negative or NaN time."""

    def __new__(cls, timeout: float) -> Self: ...
    @property
    def timeout(self) -> float:
        """The timeout in seconds (0: off)."""

@final
class WriteTimeoutHandler(NativeHandler):
    """Closes the channel when a write has not completed ``timeout`` seconds after it was
    written (Netty's ``WriteTimeoutHandler``; 0: off): fires :class:`WriteTimeoutException`
    through ``exception_caught``, then closes the channel, once (the close fails the writes
    still queued). A native handler (see :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for a negative or NaN time."""

    def __new__(cls, timeout: float) -> Self: ...
    @property
    def timeout(self) -> float:
        """The timeout in seconds (0: off)."""

# --- codecs -------------------------------------------------------------------------------

@final
class LineBasedFrameDecoder(NativeHandler):
    """Splits the bytes read into lines ending with ``\n`` or ``\r\n`` (Netty's
    ``LineBasedFrameDecoder``): each line reaches the next handler as a :class:`Buffer`
    sharing the bytes read (no copy when the line lies in one read). A line split across reads
    is put together; several lines in one read are passed on one by one.

    ``max_length`` is a line's longest length, without its line end. A longer line is dropped
    as it arrives (memory stays bounded however long it is) and reported once as
    :class:`TooLongFrameException` through ``exception_caught``: once the line end was
    skipped (the default, as Netty's), or with ``fail_fast`` as soon as more than
    ``max_length`` bytes arrived without a line end; the next line decodes. ``strip_delimiter``
    (default) leaves the line end out of the frame. A native handler (see
    :class:`NativeHandler`); the decoding runs in Rust, without the GIL.

    Raises :class:`InvalidArgumentError` for ``max_length`` ≤ 0."""

    def __new__(
        cls, max_length: int, strip_delimiter: bool = True, fail_fast: bool = False
    ) -> Self: ...
    @property
    def max_length(self) -> int:
        """The longest line, without its line end."""

    @property
    def strip_delimiter(self) -> bool:
        """Whether frames leave their line end out."""

    @property
    def fail_fast(self) -> bool:
        """Whether a too-long line is reported as soon as it is detected."""

@final
class DelimiterBasedFrameDecoder(NativeHandler):
    """Splits the bytes read into frames ending with one of ``delimiters`` (bytes-like; where
    several match, the one giving the shortest frame wins), as Netty's
    ``DelimiterBasedFrameDecoder``: frames are :class:`Buffer` messages; a delimiter split
    across reads is recognised. ``max_frame_length``, ``strip_delimiter`` and ``fail_fast``
    (default on) as for :class:`LineBasedFrameDecoder`; a too-long frame is dropped as it
    arrives and reported once as :class:`TooLongFrameException`. A native handler (see
    :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for ``max_frame_length`` ≤ 0, no delimiter or an
    empty one; :class:`TypeError` for a delimiter that is not bytes-like."""

    def __new__(
        cls,
        max_frame_length: int,
        *delimiters: BytesLike,
        strip_delimiter: bool = True,
        fail_fast: bool = True,
    ) -> Self: ...
    @property
    def max_frame_length(self) -> int:
        """The longest frame, without its delimiter."""

    @property
    def delimiters(self) -> tuple[bytes, ...]:
        """The delimiters."""

    @property
    def strip_delimiter(self) -> bool:
        """Whether frames leave their delimiter out."""

    @property
    def fail_fast(self) -> bool:
        """Whether a too-long frame is reported as soon as it is detected."""

@final
class LengthFieldBasedFrameDecoder(NativeHandler):
    """Splits the bytes read into frames whose header holds their length (Netty's
    ``LengthFieldBasedFrameDecoder``). A frame is ``length_field_offset`` bytes, the length
    field (``length_field_length`` bytes: 1, 2, 3, 4 or 8, unsigned, in ``byteorder``
    ``"big"`` or ``"little"``; an 8-byte value of 2**63 or more is negative), then the rest;
    its whole length is the field's value plus ``length_adjustment`` plus the header up to the
    field's end. The first ``initial_bytes_to_strip`` bytes are left out of the
    :class:`Buffer` message passed on.

    A frame longer than ``max_frame_length`` is skipped without being held (nothing is
    allocated from the field's value) and reported as :class:`TooLongFrameException`: at once
    with ``fail_fast`` (the default), otherwise once skipped. A negative length, or one
    shorter than the header or than ``initial_bytes_to_strip``, is
    :class:`CorruptedFrameException`: the bad bytes are skipped and decoding goes on. A native
    handler (see :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for ``max_frame_length`` ≤ 0, a field length other
    than 1, 2, 3, 4 or 8, a field that does not fit in ``max_frame_length``,
    ``initial_bytes_to_strip`` over ``max_frame_length``, a negative size, or another
    ``byteorder``."""

    def __new__(
        cls,
        max_frame_length: int,
        length_field_offset: int,
        length_field_length: int,
        length_adjustment: int = 0,
        initial_bytes_to_strip: int = 0,
        fail_fast: bool = True,
        byteorder: str = "big",
    ) -> Self: ...
    @property
    def max_frame_length(self) -> int:
        """The longest frame (before stripping)."""

    @property
    def length_field_offset(self) -> int:
        """Where the length field starts."""

    @property
    def length_field_length(self) -> int:
        """The length field's size in bytes."""

    @property
    def length_adjustment(self) -> int:
        """Added to the field's value to get the length after the field."""

    @property
    def initial_bytes_to_strip(self) -> int:
        """Bytes dropped from the front of each frame."""

    @property
    def fail_fast(self) -> bool:
        """Whether a too-long frame is reported as soon as its length is read."""

    @property
    def byteorder(self) -> str:
        """``"big"`` or ``"little"``."""

@final
class LengthFieldPrepender(NativeHandler):
    """Writes each :class:`Buffer` or bytes-like message behind a length field of
    ``length_field_length`` bytes (1, 2, 3, 4 or 8; ``byteorder`` ``"big"`` or ``"little"``)
    holding its length plus ``length_adjustment`` (plus the field's own length with
    ``length_includes_length_field_length``): Netty's ``LengthFieldPrepender``, the encoder
    of :class:`LengthFieldBasedFrameDecoder`. The header and the message are written as two
    buffers (the message is not copied); the write's future completes with the last. A length
    that is negative or does not fit in the field fails the write with
    :class:`InvalidArgumentError`. Other messages pass by. A native handler (see
    :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for another field length or ``byteorder``."""

    def __new__(
        cls,
        length_field_length: int,
        length_adjustment: int = 0,
        length_includes_length_field_length: bool = False,
        byteorder: str = "big",
    ) -> Self: ...
    @property
    def length_field_length(self) -> int:
        """The length field's size in bytes."""

    @property
    def length_adjustment(self) -> int:
        """Added to each length written."""

    @property
    def length_includes_length_field_length(self) -> bool:
        """Whether the length written counts the field itself."""

    @property
    def byteorder(self) -> str:
        """``"big"`` or ``"little"``."""

@final
class FixedLengthFrameDecoder(NativeHandler):
    """Splits the bytes read into :class:`Buffer` frames of ``frame_length`` bytes each
    (Netty's ``FixedLengthFrameDecoder``); a partial frame waits for more bytes, and is
    dropped at the end of input. A native handler (see :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for ``frame_length`` ≤ 0."""

    def __new__(cls, frame_length: int) -> Self: ...
    @property
    def frame_length(self) -> int:
        """The frame length."""

@final
class StringDecoder(NativeHandler):
    """Decodes each :class:`Buffer` message into a ``str`` (Netty's ``StringDecoder``);
    other messages pass by. Put it after a framing decoder, so a character is never split
    between two messages.

    UTF-8 (the default) decodes in Rust: with ``errors="replace"`` (the default) malformed
    input (an overlong form, a lone continuation byte, a sequence cut short at the end)
    becomes U+FFFD; with ``errors="strict"`` the frame is dropped and
    :class:`MalformedInputException` reaches ``exception_caught``. Another encoding, or
    another error handler (``"ignore"``, ``"surrogateescape"``, ...), decodes through
    Python's codecs (``codecs.lookup(encoding)``), where a ``UnicodeDecodeError`` becomes
    :class:`MalformedInputException` with it as ``__cause__``. A native handler (see
    :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for an unknown encoding or error handler."""

    def __new__(cls, encoding: str = "utf-8", errors: str = "replace") -> Self: ...
    @property
    def encoding(self) -> str:
        """The codec's name (as ``codecs.lookup(encoding).name``)."""

    @property
    def errors(self) -> str:
        """The error handler."""

@final
class StringEncoder(NativeHandler):
    """Encodes each ``str`` written into bytes (Netty's ``StringEncoder``); other messages
    pass by. A ``str`` written by a Python handler travels through the pipeline as a string
    message that non-Python handlers read too, so this encoder takes it without calling into
    Python for UTF-8 (the default); another encoding encodes through Python's codecs with
    ``errors`` (a character the encoding cannot represent fails the write with the codec's
    ``UnicodeEncodeError``). A native handler (see :class:`NativeHandler`).

    Raises :class:`InvalidArgumentError` for an unknown encoding or error handler."""

    def __new__(cls, encoding: str = "utf-8", errors: str = "strict") -> Self: ...
    @property
    def encoding(self) -> str:
        """The codec's name (as ``codecs.lookup(encoding).name``)."""

    @property
    def errors(self) -> str:
        """The error handler."""

class ByteToMessageDecoder(NativeHandler):
    """The base of a decoder written in Python (Netty's ``ByteToMessageDecoder``): subclass
    it and define ``decode(self, ctx, buffer)``, which consumes what it can from the front
    of ``buffer`` (a :class:`Cumulation` of the bytes received and not consumed yet) and
    returns the messages it made (a list or another iterable; ``None`` for none). It is
    called again while it makes progress (consumes bytes or returns messages); what is left
    waits for the next read. Each message returned reaches the next handler's
    ``channel_read`` right after the call::

        class Frames(nioxide.ByteToMessageDecoder):
            def decode(self, ctx, buffer):
                if len(buffer) < 2:
                    return None
                n = int.from_bytes(buffer[0:2], "big")
                if len(buffer) < 2 + n:
                    return None
                buffer.skip(2)
                return [buffer.read(n)]

    Optionally define ``decode_last(self, ctx, buffer)``, called once at the end of input
    (the channel went inactive or its input was shut down) after ``decode`` made no more
    progress; without it ``decode`` is called once more if bytes are left. What is left
    after it is dropped.

    Netty's rules: returning messages without consuming anything is a bug and reported as
    :class:`InvalidArgumentError` through ``exception_caught``; an exception ``decode``
    raises reaches the next handler's ``exception_caught`` as a :class:`DecoderException`
    (its ``__cause__`` the exception; a :class:`DecoderException` passes as it is), after
    the messages of the calls before, and decoding goes on if the call consumed bytes. A
    decoder removed or replaced inside ``decode`` (``ctx.pipeline.remove(self)``,
    ``ctx.pipeline.replace(self, ...)``) is not called again: once the messages of that call
    were passed on, the bytes left are passed on as one :class:`Buffer` (through the
    replacement), then ``channel_read_complete``.

    A native handler (see :class:`NativeHandler`): the cumulation is kept in Rust, and an
    instance joins one pipeline, once. ``__init__`` may take any arguments."""

    single_decode: bool
    """``True`` in a subclass (a class or instance attribute, read when the decoder is added):
    at most one message is decoded per read, the rest waits for the next read or the end of
    input (Netty's ``singleDecode``, for a protocol that switches handlers after its first
    message). ``False`` by default."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def decode(self, ctx: ChannelHandlerContext, buffer: Cumulation) -> Iterable[Any] | None:
        """Decodes what it can from the front of ``buffer``; the base raises
        ``NotImplementedError``."""

@final
class Cumulation:
    """The bytes a :class:`ByteToMessageDecoder` received and has not consumed yet, as its
    ``decode`` sees them. Valid only during the call that got it (afterwards every method
    raises :class:`InvalidArgumentError`). Bytes-like through the buffer protocol
    (``bytes(buffer)``, ``memoryview(buffer)``, ``int.from_bytes(buffer[0:4], "big")``); a
    ``memoryview`` stays valid as long as it lives and shows the bytes as they were when it
    was made."""

    def __len__(self) -> int:
        """The number of readable bytes."""

    def __bytes__(self) -> bytes:
        """A copy of the readable bytes."""

    def __buffer__(self, flags: int, /) -> memoryview:
        """A read-only export of the readable bytes (no copy)."""

    def __getitem__(self, key: int | slice, /) -> Any:
        """The byte at an index (an ``int``), or a copy of a slice (``bytes``)."""

    def peek(self, n: int | None = None) -> bytes:
        """A copy of the first ``n`` readable bytes (all by default), not consumed; raises
        :class:`InvalidArgumentError` unless ``0 <= n <= len(buffer)``."""

    def find(self, sub: BytesLike | int, start: int = 0) -> int:
        """The index of the first ``sub`` (bytes-like, or a byte as an ``int``) at or after
        ``start`` (negative: from the end, as ``bytes.find``), or -1."""

    def read(self, n: int) -> Buffer:
        """Consumes the first ``n`` readable bytes and returns them as a :class:`Buffer`
        sharing them (no copy); raises :class:`InvalidArgumentError` unless
        ``0 <= n <= len(buffer)``."""

    def skip(self, n: int) -> None:
        """Consumes (drops) the first ``n`` readable bytes; raises
        :class:`InvalidArgumentError` unless ``0 <= n <= len(buffer)``."""

class MessageToByteEncoder(NativeHandler):
    """The base of an encoder written in Python (Netty's ``MessageToByteEncoder``): subclass
    it and define ``encode(self, ctx, msg)``, which returns the bytes to write for ``msg``
    (a bytes-like object or :class:`Buffer`, a list of them written in order, or ``None``
    for nothing); they are written with the write's future. Optionally define
    ``accept_outbound_message(self, msg)``: messages it refuses pass by unencoded (without
    it, every message is encoded; an exception in it is reported as unraisable and the
    message passes by). An exception ``encode`` raises fails the write's future with it (or
    reaches ``exception_caught`` for a write without one) and nothing is written.

    A native handler (see :class:`NativeHandler`): an instance joins one pipeline, once.
    ``__init__`` may take any arguments."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def encode(self, ctx: ChannelHandlerContext, msg: Any) -> BytesLike | list[BytesLike] | None:
        """The bytes for ``msg``; the base raises ``NotImplementedError``."""

# --- leak checks --------------------------------------------------------------------------

def live_objects() -> dict[str, int]:
    """The nioxide objects alive now, counted by class name (``"SocketChannel"``,
    ``"Selector"``, ``"SelectionKey"``, ``"EventLoop"``, ``"Future"``, ...; a
    ``ScheduledFuture`` counts as a ``"Future"``), classes with none left out: the Python side
    of C's ``nx_live_handles``. An object counts from its creation until Python frees it, also
    once closed.

    For a leak check in a test's teardown: take the counts before the test, close what the
    test made, drop the references, run ``gc.collect()``, and compare::

        before = nioxide.live_objects()
        ...  # the test
        gc.collect()
        assert nioxide.live_objects() == before

    Thread-safe; the counts may change as soon as they are read when other threads (or the
    loops' callbacks) make or free objects."""
