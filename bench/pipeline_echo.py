"""pipeline_echo: the benchmark's (g), the nioxide channel pipeline echo server in Python.

    python pipeline_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

Netty's EchoServer on the nioxide module users install, the handler in Python: a
ServerBootstrap on a one-thread EventLoopGroup (that thread accepts and serves), TCP_NODELAY on
each accepted channel, and in each channel's pipeline its own instance of Netty's
EchoServerHandler (a handler instance per connection, as the issue's idle figure asks):
  - channel_read writes the message back without a promise;
  - channel_read_complete flushes;
  - while the channel is unwritable auto-read is off (the server never buffers without
    bound), back on once writable.
The main thread only waits for signals: SIGUSR1 reports rusage (the whole process, the loop
thread included), SIGTERM/SIGINT report it and exit (bench_common.py).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import nioxide
from bench_common import install


class EchoServerHandler(nioxide.ChannelInboundHandler):
    """Netty's EchoServerHandler; `counter` is the benchmark's count of the bytes echoed."""

    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        self.counter[0] += len(msg)
        ctx.write(msg)  # no promise: a failure fires exception_caught

    def channel_read_complete(self, ctx: nioxide.ChannelHandlerContext) -> None:
        ctx.flush()

    def channel_writability_changed(self, ctx: nioxide.ChannelHandlerContext) -> None:
        # Reads pause while the client does not keep up with the echo.
        ctx.channel.set_option(nioxide.ChannelOption.AUTO_READ, ctx.channel.is_writable())

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        ctx.close()  # the load generator then reports the failure


class EchoInitializer(nioxide.ChannelInitializer):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def init_channel(self, channel: nioxide.Channel) -> None:
        channel.pipeline.add_last(EchoServerHandler(self.counter), "echo")


def serve(initializer: nioxide.ChannelInitializer, port: int) -> None:
    """Serves on 127.0.0.1:`port` with `initializer` setting each accepted channel up: a
    ServerBootstrap on a one-thread EventLoopGroup (that thread accepts and serves), a backlog
    of 1024, TCP_NODELAY on each accepted channel. Prints "listening on 127.0.0.1:PORT", then
    only waits for signals (never returns; SIGTERM/SIGINT exit through bench_common's
    handlers)."""
    group = nioxide.EventLoopGroup(1)
    bootstrap = (
        nioxide.ServerBootstrap()
        .group(group, group)
        .channel(nioxide.TcpServerChannel)
        .option(nioxide.ChannelOption.SO_BACKLOG, 1024)
        .child_option(nioxide.ChannelOption.TCP_NODELAY, True)
        .child_handler(initializer)
    )
    bound = bootstrap.bind(("127.0.0.1", port))
    bound.result(timeout=10)
    address = bound.channel.local_address
    assert isinstance(address, tuple)  # a TCP address: (host, port)
    print("listening on 127.0.0.1:%d" % address[1], flush=True)
    # The loop thread serves; this one runs the signal handlers (SIGTERM/SIGINT exit).
    while True:
        signal.pause()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    serve(EchoInitializer(counter), port)


if __name__ == "__main__":
    main()
