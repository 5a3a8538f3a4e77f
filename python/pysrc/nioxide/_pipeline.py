"""The pure-Python half of the channel pipeline (Netty's model): the handler base classes
with their pass-through defaults, :class:`ChannelInitializer`, and :class:`ChannelOption`.

A handler class overrides the methods it cares about; every other event or operation
passes it by inside the Rust core, without entering Python. Which methods a class overrides
is worked out once, when the class is made (``__init_subclass__``), as the mask core reads.
The defaults below pass the event on, for a handler that calls ``super()``.

Handler methods run on the channel's loop thread and must return at once: an ``async def``
method is refused when the class is made.

Import these from :mod:`nioxide`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar

from nioxide._nioxide import _CHANNEL_OPTIONS, _HANDLER_METHODS

if TYPE_CHECKING:
    from nioxide._future import ChannelFuture
    from nioxide._nioxide import Channel, ChannelHandlerContext

__all__ = [
    "ChannelDuplexHandler",
    "ChannelHandler",
    "ChannelInboundHandler",
    "ChannelInitializer",
    "ChannelOption",
    "ChannelOutboundHandler",
]


class ChannelHandler:
    """The root of every handler (Netty's ``ChannelHandler``): ``handler_added`` and
    ``handler_removed``. Subclass :class:`ChannelInboundHandler`,
    :class:`ChannelOutboundHandler` or :class:`ChannelDuplexHandler` instead.

    An instance joins one pipeline, once, unless its class sets ``sharable = True`` (Netty's
    ``@Sharable``): a sharable handler runs on several loops at once, so it must keep no
    per-channel state of its own (keep that in channel attributes).
    """

    sharable: ClassVar[bool] = False
    #: Which methods the class overrides, as core's mask (set for each class).
    _nioxide_mask: ClassVar[int] = 0
    #: Whether this instance joined a pipeline (for the sharable check).
    _nioxide_added: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # (The base classes below are made before _mask exists; their masks are set after.)
        if "_mask" in globals():
            cls._nioxide_mask = _mask(cls)

    def handler_added(self, ctx: ChannelHandlerContext) -> None:
        """Called once the handler is in a pipeline, before any event reaches it."""

    def handler_removed(self, ctx: ChannelHandlerContext) -> None:
        """Called once the handler left its pipeline; no event reaches it afterwards."""


class ChannelInboundHandler(ChannelHandler):
    """A handler of inbound events (Netty's ``ChannelInboundHandlerAdapter``); each default
    passes the event on to the next handler."""

    def channel_registered(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_registered()

    def channel_unregistered(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_unregistered()

    def channel_active(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_active()

    def channel_inactive(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_inactive()

    def channel_read(self, ctx: ChannelHandlerContext, msg: Any) -> None:
        ctx.fire_channel_read(msg)

    def channel_read_complete(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_read_complete()

    def user_event_triggered(self, ctx: ChannelHandlerContext, event: Any) -> None:
        ctx.fire_user_event_triggered(event)

    def channel_writability_changed(self, ctx: ChannelHandlerContext) -> None:
        ctx.fire_channel_writability_changed()

    def exception_caught(self, ctx: ChannelHandlerContext, exception: BaseException) -> None:
        ctx.fire_exception_caught(exception)


class ChannelOutboundHandler(ChannelHandler):
    """A handler of outbound operations (Netty's ``ChannelOutboundHandlerAdapter``); each
    default passes the operation on towards the head. A promise passed in belongs to the
    handler: it passes it on or completes it."""

    def bind(
        self, ctx: ChannelHandlerContext, local: Any, promise: ChannelFuture[None] | None
    ) -> None:
        ctx.bind(local, promise)

    def connect(
        self,
        ctx: ChannelHandlerContext,
        remote: Any,
        local: Any,
        promise: ChannelFuture[None] | None,
    ) -> None:
        ctx.connect(remote, local, promise)

    def disconnect(self, ctx: ChannelHandlerContext, promise: ChannelFuture[None] | None) -> None:
        ctx.disconnect(promise)

    def close(self, ctx: ChannelHandlerContext, promise: ChannelFuture[None] | None) -> None:
        ctx.close(promise)

    def read(self, ctx: ChannelHandlerContext) -> None:
        ctx.read()

    def write(
        self, ctx: ChannelHandlerContext, msg: Any, promise: ChannelFuture[None] | None
    ) -> None:
        ctx.write(msg, promise)

    def flush(self, ctx: ChannelHandlerContext) -> None:
        ctx.flush()


class ChannelDuplexHandler(ChannelInboundHandler, ChannelOutboundHandler):
    """A handler of both inbound events and outbound operations (Netty's
    ``ChannelDuplexHandler``)."""


class ChannelInitializer(ChannelHandler):
    """Sets a new channel's pipeline up (Netty's ``ChannelInitializer``): :meth:`init_channel`
    runs once per channel, on its loop, before its first event reaches the handlers it adds;
    then the initializer removes itself. An exception closes the channel (after the
    exception event). Sharable: one initializer serves every accepted channel.

    >>> import nioxide
    >>> class Init(nioxide.ChannelInitializer):
    ...     def init_channel(self, channel):
    ...         channel.pipeline.add_last(nioxide.ChannelInboundHandler(), "plain")
    >>> ch = nioxide.EmbeddedChannel(Init())
    >>> ch.pipeline.names()
    ['plain']
    >>> ch.finish()
    False
    """

    sharable: ClassVar[bool] = True

    def init_channel(self, channel: Channel) -> None:
        """Sets ``channel``'s pipeline up (``channel.pipeline.add_last(...)``)."""
        raise NotImplementedError(f"{type(self).__qualname__} must define init_channel")


class ChannelOption:
    """Channel options by Netty's ``ChannelOption`` names, for ``option()``,
    ``child_option()``, :meth:`Channel.set_option` and :meth:`Channel.get_option`:

    - ``AUTO_READ`` (bool, on): read batches follow each other by themselves; off, each
      ``read()`` allows one batch. On a server it gates accepting.
    - ``WRITE_BUFFER_WATER_MARK`` (``(low, high)`` in bytes, 32 KiB and 64 KiB): the channel
      becomes unwritable above ``high`` and writable again below ``low``.
    - ``WRITE_BUFFER_HARD_CAP`` (bytes, 16 MiB, 0 = none): a write that would queue more fails
      whole with ``ENOBUFS``.
    - ``CONNECT_TIMEOUT_MILLIS`` (milliseconds, 30000; 0 = none).
    - ``ALLOW_HALF_CLOSURE`` (bool, off): at end of stream fire
      :data:`CHANNEL_INPUT_SHUTDOWN` and stay open instead of closing.
    - ``TCP_NODELAY`` (on), ``SO_REUSEADDR``, ``SO_REUSEPORT``, ``SO_KEEPALIVE`` (bool);
      ``SO_RCVBUF``, ``SO_SNDBUF`` (bytes); ``SO_LINGER`` (seconds or ``None``);
      ``SO_BACKLOG`` (a server's listen backlog, 1024).
    """

    AUTO_READ: ClassVar[str] = "AUTO_READ"
    WRITE_BUFFER_WATER_MARK: ClassVar[str] = "WRITE_BUFFER_WATER_MARK"
    WRITE_BUFFER_HARD_CAP: ClassVar[str] = "WRITE_BUFFER_HARD_CAP"
    CONNECT_TIMEOUT_MILLIS: ClassVar[str] = "CONNECT_TIMEOUT_MILLIS"
    ALLOW_HALF_CLOSURE: ClassVar[str] = "ALLOW_HALF_CLOSURE"
    TCP_NODELAY: ClassVar[str] = "TCP_NODELAY"
    SO_REUSEADDR: ClassVar[str] = "SO_REUSEADDR"
    SO_REUSEPORT: ClassVar[str] = "SO_REUSEPORT"
    SO_RCVBUF: ClassVar[str] = "SO_RCVBUF"
    SO_SNDBUF: ClassVar[str] = "SO_SNDBUF"
    SO_KEEPALIVE: ClassVar[str] = "SO_KEEPALIVE"
    SO_LINGER: ClassVar[str] = "SO_LINGER"
    SO_BACKLOG: ClassVar[str] = "SO_BACKLOG"


# The options named here are the ones core knows (checked once, at import).
assert sorted(_CHANNEL_OPTIONS) == sorted(
    value for name, value in vars(ChannelOption).items() if name.isupper()
), "ChannelOption is out of step with the extension's options"

#: The pass-through defaults: a class whose method is one of these does not take that event.
_DEFAULTS = frozenset(
    vars(base)[name]
    for base in (ChannelHandler, ChannelInboundHandler, ChannelOutboundHandler)
    for name in _HANDLER_METHODS
    if name in vars(base)
)


def _mask(cls: type) -> int:
    """The mask of a handler class: the bits of the methods it overrides, and the
    initializer bit for a :class:`ChannelInitializer`. Refuses ``async def`` methods."""
    mask = 0
    for name, bit in _HANDLER_METHODS.items():
        if name == "init_channel":
            continue
        method = getattr(cls, name, None)
        if method is None or method in _DEFAULTS:
            continue
        if inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method):
            raise TypeError(
                f"{cls.__qualname__}.{name} is an async def: handler methods run on the "
                "channel's loop thread and must return at once. Make it a plain def; to wait "
                "for an operation, add a done callback to its future (or hand the work to an "
                "asyncio loop with asyncio.run_coroutine_threadsafe)."
            )
        mask |= bit
    if issubclass(cls, ChannelInitializer):
        mask |= _HANDLER_METHODS["init_channel"]
    return mask


for _base in (ChannelInboundHandler, ChannelOutboundHandler, ChannelDuplexHandler, ChannelInitializer):
    _base._nioxide_mask = _mask(_base)
del _base
