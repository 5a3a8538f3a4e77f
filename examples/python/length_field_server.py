"""A message server on nioxide's length-field codecs: each message is a 2-byte big-endian
length and that many bytes; the server answers each message with its bytes in reverse order,
framed the same way (the protocol of examples/c/length-field-server.c).

    python length_field_server.py [PORT [CONNECTIONS]]

Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
"listening on 127.0.0.1:PORT" as its first line. Exits after CONNECTIONS connections have
closed (0 or nothing: never), or on SIGTERM/Ctrl-C.

Each connection's pipeline: LengthFieldBasedFrameDecoder(65537, 0, 2, 0, 2) (a 2-byte field
at offset 0, the header stripped: the handler sees whole messages however TCP cut them),
LengthFieldPrepender(2) (writes the 2-byte header before each answer, without copying the
answer), and the handler below.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import nioxide


class ReverseHandler(nioxide.ChannelInboundHandler):
    """Answers each whole message with its bytes reversed."""

    sharable = True

    def __init__(self, closed: threading.Semaphore) -> None:
        self.closed = closed

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        ctx.write(bytes(msg)[::-1])

    def channel_read_complete(self, ctx: nioxide.ChannelHandlerContext) -> None:
        ctx.flush()

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        print(f"connection {ctx.channel.id}: {exception!r}, closing", flush=True)
        ctx.close()

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        print(f"connection {ctx.channel.id}: closed", flush=True)
        self.closed.release()


class FramedInitializer(nioxide.ChannelInitializer):
    def __init__(self, handler: ReverseHandler) -> None:
        self.handler = handler

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LengthFieldBasedFrameDecoder(65537, 0, 2, 0, 2), "frames")
        pipeline.add_last(nioxide.LengthFieldPrepender(2), "prepender")
        pipeline.add_last(self.handler, "reverse")


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    closed = threading.Semaphore(0)
    with nioxide.EventLoopGroup(1) as group:
        bound = (
            nioxide.ServerBootstrap()
            .group(group, group)
            .channel(nioxide.TcpServerChannel)
            .child_option(nioxide.ChannelOption.TCP_NODELAY, True)
            .child_handler(FramedInitializer(ReverseHandler(closed)))
            .bind(("127.0.0.1", port))
        )
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
