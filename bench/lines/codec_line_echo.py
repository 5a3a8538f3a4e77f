"""codec_line_echo: the line benchmark's (D), nioxide's pipeline in Python with the line
decoder in nioxide.

    python codec_line_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

A ServerBootstrap on a one-thread EventLoopGroup (that thread accepts and serves), TCP_NODELAY
on each accepted channel, and in each channel's pipeline its own
nioxide.LineBasedFrameDecoder (16 KiB lines at most, keeping the '\\n', so a frame is the very
bytes to echo; the framing runs in Rust) followed by Netty's EchoServerHandler in Python:
  - channel_read writes each line (a nioxide.Buffer sharing the bytes read) back without a
    promise;
  - channel_read_complete flushes;
  - while the channel is unwritable auto-read is off (the server never buffers without
    bound), back on once writable.
The main thread only waits for signals: SIGUSR1 reports rusage (the whole process, the loop
thread included), SIGTERM/SIGINT report it and exit (bench/bench_common.py).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nioxide  # noqa: E402
from bench_common import install  # noqa: E402

MAX_LINE = 16384


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
        ctx.close()  # a too-long line, or a reset: the load generator reports the failure


class LineEchoInitializer(nioxide.ChannelInitializer):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LineBasedFrameDecoder(MAX_LINE, strip_delimiter=False), "lines")
        pipeline.add_last(EchoServerHandler(self.counter), "echo")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    group = nioxide.EventLoopGroup(1)
    bootstrap = (
        nioxide.ServerBootstrap()
        .group(group, group)
        .channel(nioxide.TcpServerChannel)
        .option(nioxide.ChannelOption.SO_BACKLOG, 1024)
        .child_option(nioxide.ChannelOption.TCP_NODELAY, True)
        .child_handler(LineEchoInitializer(counter))
    )
    bound = bootstrap.bind(("127.0.0.1", port))
    bound.result(timeout=10)
    address = bound.channel.local_address
    assert isinstance(address, tuple)  # a TCP address: (host, port)
    print("listening on 127.0.0.1:%d" % address[1], flush=True)
    # The loop thread serves; this one runs the signal handlers (SIGTERM/SIGINT exit).
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
