"""The client of the length-field servers (examples/python/length_field_server.py and
examples/c/length-field-server.c): it sends messages of several sizes (0 bytes to 65535)
framed by the length-field prepender, reads the answers framed by the length-field decoder,
and checks that each is its message reversed.

    python length_field_client.py PORT

Exits 0 only if every answer came back whole and right, 1 otherwise (also on an error, or
after 30 s without finishing).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import nioxide

TIMEOUT = 30.0
SIZES = [0, 1, 5, 300, 4096, 65535, 17]


class ReverseClient(nioxide.ChannelInboundHandler):
    def __init__(self) -> None:
        self.sent = [os.urandom(n) for n in SIZES]
        self.answered = 0
        self.mismatch = False
        self.done = threading.Event()

    def channel_active(self, ctx: nioxide.ChannelHandlerContext) -> None:
        for message in self.sent:
            ctx.write(message)  # the prepender writes its header first
        ctx.flush()

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        expected = self.sent[self.answered][::-1]
        ok = bytes(msg) == expected
        print(f"message of {len(expected)} bytes -> {len(msg)} bytes back"
              + ("" if ok else "  MISMATCH"), flush=True)  # fmt: skip
        self.mismatch |= not ok
        self.answered += 1
        if self.answered == len(self.sent):
            ctx.close()

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        print(f"error: {exception!r}", flush=True)
        self.mismatch = True
        ctx.close()

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        self.done.set()


class FramedInitializer(nioxide.ChannelInitializer):
    def __init__(self, handler: ReverseClient) -> None:
        self.handler = handler

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LengthFieldBasedFrameDecoder(65537, 0, 2, 0, 2), "frames")
        pipeline.add_last(nioxide.LengthFieldPrepender(2), "prepender")
        pipeline.add_last(self.handler, "client")


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: length_field_client.py PORT", file=sys.stderr)
        return 2
    handler = ReverseClient()
    with nioxide.EventLoopGroup(1) as group:
        connected = (
            nioxide.Bootstrap()
            .group(group)
            .channel(nioxide.TcpChannel)
            .handler(FramedInitializer(handler))
            .connect(("127.0.0.1", int(sys.argv[1])))
        )
        connected.result(timeout=TIMEOUT)
        finished = handler.done.wait(TIMEOUT)
        connected.channel.close().result(timeout=TIMEOUT)
    if not finished or handler.mismatch or handler.answered != len(SIZES):
        print(f"FAILED: {handler.answered} of {len(SIZES)} answers checked", flush=True)
        return 1
    print(f"all {len(SIZES)} answers were their messages reversed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
