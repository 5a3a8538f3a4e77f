"""nioxide: Java NIO's Selector and TCP channels for Python, on a Rust core.

Register non-blocking channels with a :class:`Selector`, ``select()``, walk the selected keys
and do the I/O yourself, as in Java NIO::

    import nioxide

    with nioxide.Selector() as selector, nioxide.ServerSocketChannel() as server:
        server.bind(("127.0.0.1", 0))
        server.configure_blocking(False)
        server.register(selector, nioxide.OP_ACCEPT)
        for key in selector.select(timeout=0.1):
            ...

Addresses are ``(host, port)`` tuples (IPv6: ``(host, port, flowinfo, scope_id)``), times
are seconds (``None`` waits forever), ``read_into()`` returns ``None`` when it would block and
``0`` at end of stream. Errors are :class:`NioxideError` subclasses (see
:mod:`nioxide.exceptions`). Blocking calls release the GIL, and Ctrl-C interrupts them.
"""

from nioxide._nioxide import (
    IPV6_V6ONLY,
    OP_ACCEPT,
    OP_CONNECT,
    OP_READ,
    OP_WRITE,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    TCP_NODELAY,
    SelectionKey,
    Selector,
    ServerSocketChannel,
    SocketChannel,
    __version__,
)
from nioxide.exceptions import (
    AlreadyBoundError,
    AlreadyConnectedError,
    AlreadyRegisteredError,
    AsynchronousCloseError,
    BrokenPipeError,
    CancelledKeyError,
    ChannelShutdownError,
    ClosedChannelError,
    ClosedSelectorError,
    ConnectionAbortedError,
    ConnectionPendingError,
    ConnectionRefusedError,
    ConnectionResetError,
    ForkedError,
    IllegalBlockingModeError,
    InvalidArgumentError,
    NioxideError,
    NioxideOSError,
    NoConnectionPendingError,
    NotYetBoundError,
    NotYetConnectedError,
    ReadPendingError,
    TimeoutError,
    UnsupportedOperationError,
    UnsupportedOptionError,
    WritePendingError,
)

__all__ = [
    # selector
    "Selector",
    "SelectionKey",
    "OP_READ",
    "OP_WRITE",
    "OP_CONNECT",
    "OP_ACCEPT",
    # channels
    "ServerSocketChannel",
    "SocketChannel",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "TCP_NODELAY",
    "SO_KEEPALIVE",
    "SO_RCVBUF",
    "SO_SNDBUF",
    "SO_LINGER",
    "IPV6_V6ONLY",
    # exceptions
    "NioxideError",
    "NioxideOSError",
    "AlreadyBoundError",
    "AlreadyConnectedError",
    "AlreadyRegisteredError",
    "AsynchronousCloseError",
    "BrokenPipeError",
    "CancelledKeyError",
    "ChannelShutdownError",
    "ClosedChannelError",
    "ClosedSelectorError",
    "ConnectionAbortedError",
    "ConnectionPendingError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ForkedError",
    "IllegalBlockingModeError",
    "InvalidArgumentError",
    "NoConnectionPendingError",
    "NotYetBoundError",
    "NotYetConnectedError",
    "ReadPendingError",
    "TimeoutError",
    "UnsupportedOperationError",
    "UnsupportedOptionError",
    "WritePendingError",
    "__version__",
]
