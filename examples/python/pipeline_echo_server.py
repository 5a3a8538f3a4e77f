"""An echo server on nioxide's channel pipeline: Netty's EchoServer, in Python.

    python pipeline_echo_server.py [PORT [CONNECTIONS]]

Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
"listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/Ctrl-C.

The pattern, as in Netty:
  - a ServerBootstrap with a boss group that accepts and a worker group that serves;
  - a ChannelInitializer that puts an EchoServerHandler in each accepted channel's pipeline;
  - the handler writes each message back without a promise in channel_read and flushes in
    channel_read_complete (one flush per read batch);
  - it stops reading while the channel is unwritable (the client does not read its echoes),
    so a slow client cannot make the server buffer without bound.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import nioxide


class EchoServerHandler(nioxide.ChannelInboundHandler):
    """Netty's EchoServerHandler. Sharable: one instance serves every connection, so what
    belongs to one connection lives in its channel's attributes."""

    sharable = True

    def __init__(self, closed: threading.Semaphore) -> None:
        self.closed = closed

    def channel_active(self, ctx: nioxide.ChannelHandlerContext) -> None:
        ctx.channel.echoed = 0
        print(f"connection {ctx.channel.id} from {ctx.channel.remote_address}", flush=True)

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        ctx.channel.echoed += len(msg)
        ctx.write(msg)  # no promise: a failure fires exception_caught

    def channel_read_complete(self, ctx: nioxide.ChannelHandlerContext) -> None:
        ctx.flush()

    def channel_writability_changed(self, ctx: nioxide.ChannelHandlerContext) -> None:
        # Backpressure: read only while the echoes drain.
        ctx.channel.set_option(nioxide.ChannelOption.AUTO_READ, ctx.channel.is_writable())

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        print(f"connection {ctx.channel.id}: {exception!r}, closing", flush=True)
        ctx.close()

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        print(f"connection {ctx.channel.id}: closed after {ctx.channel.echoed} bytes echoed",
              flush=True)  # fmt: skip
        self.closed.release()


class EchoInitializer(nioxide.ChannelInitializer):
    def __init__(self, handler: EchoServerHandler) -> None:
        self.handler = handler

    def init_channel(self, channel: nioxide.Channel) -> None:
        channel.pipeline.add_last(self.handler, "echo")


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    closed = threading.Semaphore(0)
    with nioxide.EventLoopGroup(1) as boss, nioxide.EventLoopGroup(2) as workers:
        bootstrap = (
            nioxide.ServerBootstrap()
            .group(boss, workers)
            .channel(nioxide.TcpServerChannel)
            .option(nioxide.ChannelOption.SO_BACKLOG, 128)
            .child_option(nioxide.ChannelOption.TCP_NODELAY, True)
            .child_handler(EchoInitializer(EchoServerHandler(closed)))
        )
        bound = bootstrap.bind(("127.0.0.1", port))
        bound.result(timeout=10)
        server = bound.channel
        address = server.local_address
        assert isinstance(address, tuple)  # a TCP address: (host, port)
        print(f"listening on {address[0]}:{address[1]}", flush=True)
        try:
            served = 0
            while not stop.is_set() and (connections == 0 or served < connections):
                if closed.acquire(timeout=0.2):
                    served += 1
        except KeyboardInterrupt:
            pass
        server.close().result(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
