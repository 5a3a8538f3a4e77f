"""The client of the key-value line servers (examples/python/codec_kv_server.py and
examples/c/codec-kv-server.c), on nioxide's codecs: it sends a script of requests, written in
odd fragments (so the server's line decoder has to put lines together), and checks every
answer line.

    python codec_kv_client.py PORT

Its own pipeline frames the answers with the line decoder and reads them as str with the
string decoder; the handler compares each with the script's expected answer and prints both.
Exits 0 only if every answer was the expected one, 1 otherwise (also on an error, or after
30 s without finishing).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import nioxide

TIMEOUT = 30.0

#: Each request (bytes, as sent; "\n" is added) and the answer the server must give.
SCRIPT: list[tuple[bytes, str]] = [
    (b"GET colour", "NOT_FOUND"),
    (b"SET colour blue", "OK"),
    (b"GET colour", "VALUE blue"),
    ("SET greeting h\u00e9llo w\u00f6rld \u4e16\u754c".encode(), "OK"),
    (b"GET greeting", "VALUE h\u00e9llo w\u00f6rld \u4e16\u754c"),
    (b"SET colour green\r", "OK"),  # "\r\n" ends this line: the "\r" is no part of it
    (b"GET colour", "VALUE green"),
    (b"SET note " + b"x" * 2000, "ERROR line too long"),  # over the server's 1024 bytes
    (b"GET note", "NOT_FOUND"),
    (b"GET \xff\xfe", "ERROR not UTF-8"),
    (b"DEL colour", "DELETED"),
    (b"DEL colour", "NOT_FOUND"),
    (b"FROB x", "ERROR unknown command"),
    (b"QUIT", "BYE"),
]


class KvClientHandler(nioxide.ChannelInboundHandler):
    def __init__(self) -> None:
        self.answered = 0
        self.mismatch = False
        self.done = threading.Event()

    def channel_active(self, ctx: nioxide.ChannelHandlerContext) -> None:
        # The whole script at once, cut into fragments of 1, 2, 3, ... bytes, each its own
        # write (bytes pass the string encoder by), flushed together.
        data = b"".join(request + b"\n" for request, _ in SCRIPT)
        at, step = 0, 1
        while at < len(data):
            ctx.write(data[at : at + step])
            at, step = at + step, step + 1
        ctx.flush()

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        request, expected = SCRIPT[self.answered]
        shown = request if len(request) <= 40 else request[:40] + b"..."
        ok = msg == expected
        print(f"{shown!r} -> {msg!r}" + ("" if ok else f"  MISMATCH: expected {expected!r}"),
              flush=True)  # fmt: skip
        self.mismatch |= not ok
        self.answered += 1
        if self.answered == len(SCRIPT):
            ctx.close()

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        print(f"error: {exception!r}", flush=True)
        self.mismatch = True
        ctx.close()

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        self.done.set()


class KvClientInitializer(nioxide.ChannelInitializer):
    def __init__(self, handler: KvClientHandler) -> None:
        self.handler = handler

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LineBasedFrameDecoder(4096), "lines")
        pipeline.add_last(nioxide.StringDecoder(), "text")
        pipeline.add_last(nioxide.StringEncoder(), "encoder")
        pipeline.add_last(self.handler, "client")


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: codec_kv_client.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    handler = KvClientHandler()
    with nioxide.EventLoopGroup(1) as group:
        connected = (
            nioxide.Bootstrap()
            .group(group)
            .channel(nioxide.TcpChannel)
            .option(nioxide.ChannelOption.TCP_NODELAY, True)
            .handler(KvClientInitializer(handler))
            .connect(("127.0.0.1", port))
        )
        connected.result(timeout=TIMEOUT)
        finished = handler.done.wait(TIMEOUT)
        connected.channel.close().result(timeout=TIMEOUT)
    if not finished:
        print(f"timed out after {handler.answered} of {len(SCRIPT)} answers", flush=True)
        return 1
    if handler.mismatch or handler.answered != len(SCRIPT):
        print(f"FAILED: {handler.answered} of {len(SCRIPT)} answers, some wrong", flush=True)
        return 1
    print(f"all {len(SCRIPT)} answers as expected", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
