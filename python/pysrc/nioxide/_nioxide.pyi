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
from typing import Any, Final, Generic, TypeAlias, TypeVar, final

from typing_extensions import Buffer, Self, TypeVarTuple, Unpack, disjoint_base

from nioxide._future import Future, ScheduledFuture

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
    "AsynchronousChannelGroup",
    "AsynchronousServerSocketChannel",
    "AsynchronousSocketChannel",
    "AsynchronousFileChannel",
    "FileLock",
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

_Address: TypeAlias = tuple[str, int] | tuple[str, int, int, int]

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

    def read_into(self, buffer: Buffer) -> int | None:
        """Reads into ``buffer`` (a writable bytes-like object: ``bytearray``,
        ``memoryview``, ``array``) without copying: the bytes go straight into its memory.
        Returns the count, ``0`` at end of stream (or for an empty buffer), or ``None`` when
        non-blocking and nothing is available (``io.RawIOBase`` style). ``bytes`` is refused
        with ``TypeError``. Raises :class:`NotYetConnectedError`,
        :class:`ConnectionResetError` (the peer reset the connection: every later read raises
        it too, as in Java), ..."""

    def read(self, n: int) -> bytes | None:
        """Reads up to ``n`` bytes: ``b""`` at end of stream, ``None`` when it would block."""

    def readv_into(self, buffers: Iterable[Buffer]) -> int | None:
        """Scattering read into ``buffers`` in order; results as :meth:`read_into`."""

    def write(self, data: Buffer) -> int:
        """Writes ``data`` (any bytes-like object). Non-blocking mode writes what fits now
        (possibly 0); blocking mode writes everything. Returns the count. Raises
        :class:`ChannelShutdownError` after :meth:`shutdown_output`,
        :class:`BrokenPipeError`, :class:`ConnectionResetError`, ..."""

    def writev(self, buffers: Iterable[Buffer]) -> int:
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
        ``wait_ns`` (nanoseconds spent waiting in the backend) and ``panics``."""

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

_Buffers: TypeAlias = Buffer | list[Buffer] | tuple[Buffer, ...]

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
        """The process-wide default group (made on first use)."""
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
        once its channels are closed. Idempotent."""
    def shutdown_now(self) -> None:
        """Shuts down and closes every channel of the group. Idempotent."""
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
        :class:`DeadlockError` on one of the group's threads."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Shuts down now and, unless on one of the group's threads, waits for termination."""

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
    with ``result()`` and ``await``. A call that raises never calls its handler.

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
        buffer: Buffer,
        position: int,
        attachment: Any = None,
        handler: _Handler | None = None,
    ) -> Future[int] | None:
        """Reads into ``buffer`` (one buffer: a list raises :class:`InvalidArgumentError`)
        from ``position``: the count, or -1 at or past the end."""
    def write(
        self,
        buffer: Buffer,
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
        cannot cancel the wait."""
    def try_lock(
        self, position: int = 0, size: int = 0, shared: bool = False
    ) -> FileLock | None:
        """Takes a lock now, or returns ``None`` if a conflicting one is held elsewhere."""
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
