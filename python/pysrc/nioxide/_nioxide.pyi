"""The extension module behind :mod:`nioxide` (import from ``nioxide``, not from here).

Java NIO's Selector model over a Rust core. The semantics are those of nioxide's C API
(``nx_selector_*``, ``nx_socket_*``); this stub is the Python documentation.
"""

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, TypeAlias, final

from typing_extensions import Buffer, Self

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
    "Selector",
    "SelectionKey",
    "ServerSocketChannel",
    "SocketChannel",
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
    garbage-collected is closed too.

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
        :meth:`select` returns. Idempotent."""

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
        """The epoll descriptor (readable when a select would find events; nioxide owns it),
        or ``-1`` once closed."""

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
        ops the channel does not support raise :class:`UnsupportedOperationError`."""

    @interest_ops.setter
    def interest_ops(self, value: int, /) -> None: ...
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

    >>> import nioxide
    >>> with nioxide.ServerSocketChannel() as server:
    ...     server.bind(("127.0.0.1", 0))
    ...     server.local_address[0]
    '127.0.0.1'
    """

    def __new__(cls, family: int | None = None) -> Self:
        """Opens an unbound channel of ``family``. Raises :class:`InvalidArgumentError` (a
        family other than ``AF_INET``, ``AF_INET6``, ``None``), :class:`NioxideOSError`."""
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
        :class:`AlreadyRegisteredError` (registered with another selector),
        :class:`ClosedChannelError`, :class:`ClosedSelectorError`,
        :class:`CancelledKeyError` (cancelled since the last select)."""

    def fileno(self) -> int:
        """The descriptor (nioxide owns it), or ``-1`` once closed."""

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
    No write raises ``SIGPIPE``. A context manager; close is idempotent.
    """

    def __new__(cls, family: int | None = None) -> Self:
        """Opens an unbound channel of ``family``. Raises :class:`InvalidArgumentError` (a
        family other than ``AF_INET``, ``AF_INET6``, ``None``), :class:`NioxideOSError`."""
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

    def bind(self, address: _Address) -> None:
        """Binds the local side before connecting (optional)."""

    def read_into(self, buffer: Buffer) -> int | None:
        """Reads into ``buffer`` (a writable bytes-like object: ``bytearray``,
        ``memoryview``, ``array``) without copying: the bytes go straight into its memory.
        Returns the count, ``0`` at end of stream (or for an empty buffer), or ``None`` when
        non-blocking and nothing is available (``io.RawIOBase`` style). ``bytes`` is refused
        with ``TypeError``. Raises :class:`NotYetConnectedError`,
        :class:`ConnectionResetError`, ..."""

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
        """The options this channel type supports (all eight)."""

    def register(self, selector: Selector, ops: int, attachment: Any = None) -> SelectionKey:
        """Registers with ``selector`` for ``ops`` (``OP_READ | OP_WRITE | OP_CONNECT``)
        with an attachment, or updates the key if already registered there; errors as
        :meth:`ServerSocketChannel.register`."""

    def fileno(self) -> int:
        """The descriptor (nioxide owns it), or ``-1`` once closed."""

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
