"""nioxide: Java NIO's Selector and TCP channels, and Netty's event loops and channel
pipeline, for Python, on a Rust core.

Register non-blocking channels with a :class:`Selector`, ``select()``, walk the selected keys
and do the I/O yourself, as in Java NIO::

    import nioxide

    with nioxide.Selector() as selector, nioxide.ServerSocketChannel() as server:
        server.bind(("127.0.0.1", 0))
        server.configure_blocking(False)
        server.register(selector, nioxide.OP_ACCEPT)
        for key in selector.select(timeout=0.1):
            ...

Or run callbacks, timers and readiness watches on an :class:`EventLoop` (driven by your
thread with ``run()``, by a library thread with :meth:`EventLoop.spawn`, by an
:class:`EventLoopGroup`, or by a running asyncio loop through :func:`asyncio_bridge`); their
results are :class:`Future` objects, which are :class:`concurrent.futures.Future` objects
awaitable from asyncio::

    with nioxide.EventLoopGroup(2) as group:
        assert group.submit(sum, [1, 2, 3]).result(timeout=5) == 6

Or serve connections with a pipeline of handlers, as in Netty: a :class:`ServerBootstrap`
sets up each accepted channel with a :class:`ChannelInitializer`, and handlers
(:class:`ChannelInboundHandler` and its kin) override the events they take::

    class Echo(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx, msg):
            ctx.write(msg)

        def channel_read_complete(self, ctx):
            ctx.flush()

Or start asynchronous operations with a buffer, an attachment and a completion handler (Java
NIO.2's model) on :class:`AsynchronousSocketChannel`, :class:`AsynchronousServerSocketChannel`
and :class:`AsynchronousFileChannel`, served by an :class:`AsynchronousChannelGroup`; without
a handler an operation returns a :class:`Future`.

Addresses are ``(host, port)`` tuples (IPv6: ``(host, port, flowinfo, scope_id)``), times
are seconds (``None`` waits forever), ``read_into()`` returns ``None`` when it would block and
``0`` at end of stream. Errors are :class:`NioxideError` subclasses (see
:mod:`nioxide.exceptions`). Blocking calls release the GIL, and Ctrl-C interrupts them.
"""

from nioxide._aio import CompletionHandler, StandardOpenOption
from nioxide._nioxide import (
    IPV6_V6ONLY,
    RUN_DEFAULT,
    RUN_NOWAIT,
    RUN_ONCE,
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
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_NODELAY,
    CHANNEL_INPUT_SHUTDOWN,
    CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE,
    CHANNEL_OUTPUT_SHUTDOWN,
    AsynchronousChannelGroup,
    AsynchronousFileChannel,
    AsynchronousServerSocketChannel,
    AsynchronousSocketChannel,
    Bootstrap,
    Buffer,
    ByteToMessageDecoder,
    Channel,
    ChannelHandlerContext,
    ChannelPipeline,
    Cumulation,
    DelimiterBasedFrameDecoder,
    EmbeddedChannel,
    EventLoop,
    EventLoopGroup,
    FileLock,
    FixedLengthFrameDecoder,
    IdleState,
    IdleStateEvent,
    IdleStateHandler,
    LengthFieldBasedFrameDecoder,
    LengthFieldPrepender,
    LineBasedFrameDecoder,
    LocalChannel,
    LocalServerChannel,
    MessageToByteEncoder,
    NativeHandler,
    OpaqueMessage,
    ReadTimeoutHandler,
    SelectionKey,
    Selector,
    ServerSocketChannel,
    ServerBootstrap,
    SocketChannel,
    StringDecoder,
    StringEncoder,
    TcpChannel,
    TcpServerChannel,
    Timer,
    UserEvent,
    Watch,
    WriteTimeoutHandler,
    __version__,
    live_objects,
)
from nioxide._future import CLOSE, CLOSE_ON_FAILURE, ChannelFuture, Future, ScheduledFuture
from nioxide._pipeline import (
    ChannelDuplexHandler,
    ChannelHandler,
    ChannelInboundHandler,
    ChannelInitializer,
    ChannelOption,
    ChannelOutboundHandler,
)
from nioxide._runtime import AsyncioBridge, asyncio_bridge
from nioxide.exceptions import (
    AcceptPendingError,
    AlreadyBoundError,
    AlreadyConnectedError,
    AlreadyRegisteredError,
    AsynchronousCloseError,
    BrokenPipeError,
    CancelledError,
    CancelledKeyError,
    ChannelShutdownError,
    ClosedChannelError,
    ClosedEventLoopError,
    ClosedSelectorError,
    ConnectionAbortedError,
    ConnectionPendingError,
    ConnectionRefusedError,
    ConnectionResetError,
    CorruptedFrameException,
    DeadlockError,
    DecoderException,
    DirectionDisabledError,
    ForkedError,
    IllegalBlockingModeError,
    InvalidArgumentError,
    InvalidStateError,
    LoopBusyError,
    MalformedInputException,
    NioxideError,
    NioxideOSError,
    NoConnectionPendingError,
    NotYetBoundError,
    NotYetConnectedError,
    OverlappingFileLockError,
    ReadPendingError,
    ReadTimeoutException,
    RejectedExecutionError,
    ShutdownChannelGroupError,
    TimeoutError,
    TooLongFrameException,
    UnresolvedAddressError,
    UnsupportedOperationError,
    UnsupportedOptionError,
    WritePendingError,
    WriteQueueFullError,
    WriteTimeoutException,
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
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_KEEPCNT",
    # event loops
    "EventLoop",
    "EventLoopGroup",
    "Future",
    "ScheduledFuture",
    "Watch",
    "Timer",
    "RUN_DEFAULT",
    "RUN_ONCE",
    "RUN_NOWAIT",
    "AsyncioBridge",
    "asyncio_bridge",
    # the channel pipeline
    "ServerBootstrap",
    "Bootstrap",
    "Channel",
    "TcpChannel",
    "TcpServerChannel",
    "LocalChannel",
    "LocalServerChannel",
    "EmbeddedChannel",
    "ChannelPipeline",
    "ChannelHandlerContext",
    "ChannelHandler",
    "ChannelInboundHandler",
    "ChannelOutboundHandler",
    "ChannelDuplexHandler",
    "ChannelInitializer",
    "ChannelOption",
    "ChannelFuture",
    "CLOSE",
    "CLOSE_ON_FAILURE",
    "Buffer",
    "OpaqueMessage",
    "UserEvent",
    "CHANNEL_INPUT_SHUTDOWN",
    "CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE",
    "CHANNEL_OUTPUT_SHUTDOWN",
    # handlers nioxide ships
    "NativeHandler",
    "IdleStateHandler",
    "ReadTimeoutHandler",
    "WriteTimeoutHandler",
    "IdleState",
    "IdleStateEvent",
    # codecs
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
    # completion-handler AIO
    "AsynchronousChannelGroup",
    "AsynchronousServerSocketChannel",
    "AsynchronousSocketChannel",
    "AsynchronousFileChannel",
    "FileLock",
    "CompletionHandler",
    "StandardOpenOption",
    # leak checks
    "live_objects",
    # exceptions
    "NioxideError",
    "NioxideOSError",
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
    "NoConnectionPendingError",
    "NotYetBoundError",
    "NotYetConnectedError",
    "OverlappingFileLockError",
    "ReadPendingError",
    "ReadTimeoutException",
    "RejectedExecutionError",
    "ShutdownChannelGroupError",
    "TimeoutError",
    "TooLongFrameException",
    "UnresolvedAddressError",
    "UnsupportedOperationError",
    "UnsupportedOptionError",
    "WritePendingError",
    "WriteQueueFullError",
    "WriteTimeoutException",
    "__version__",
]
