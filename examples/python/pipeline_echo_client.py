"""An echo client on nioxide's channel pipeline: Netty's EchoClient, in Python.

    python pipeline_echo_client.py PORT [MESSAGE...]

Connects to 127.0.0.1:PORT with a Bootstrap, sends each MESSAGE in turn (or a default set,
one of them 1 MiB), waits for each echo and checks it byte for byte, prints what was
exchanged, then closes the connection. Exits 0 only if every byte came back as sent, 1
otherwise (also on an error or after 30 s without finishing).

The pattern, as in Netty: a Bootstrap with one group and an EchoClientHandler in the
channel's pipeline; the handler sends the first message once the channel is active, checks
the echo in channel_read, sends the next one, and closes after the last (a write listener,
nioxide.CLOSE, would close after a last write the same way).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import nioxide

TIMEOUT = 30.0
DEFAULT_MESSAGES = [
    b"Hello, nioxide!",
    "I am Coming, \u4f60\u597d".encode(),
    b"66666666",
    b"abcdefghijklmnopqrstuvwxyz0123456789" * (1024 * 1024 // 36) + b"end",
]


def show(label: str, data: bytes) -> None:
    text = data.decode(errors="replace")
    if len(text) > 60:
        text = f"{text[:24]}...{text[-24:]}"
    print(f"{label} {len(data)} bytes: {text!r}", flush=True)


class EchoClientHandler(nioxide.ChannelInboundHandler):
    """Sends the messages one at a time and checks each echo."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = messages
        self.current = 0
        self.echo = bytearray()
        self.matched = True
        self.finished = threading.Event()

    def channel_active(self, ctx: nioxide.ChannelHandlerContext) -> None:
        print(f"connected to {ctx.channel.remote_address}", flush=True)
        self.send(ctx)

    def send(self, ctx: nioxide.ChannelHandlerContext) -> None:
        message = self.messages[self.current]
        ctx.write_and_flush(message)
        show("sent", message)

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        self.echo += msg
        expected = self.messages[self.current]
        if len(self.echo) < len(expected):
            return
        show("echoed", bytes(self.echo))
        if bytes(self.echo[: len(expected)]) != expected:
            print("the echo differs from what was sent", flush=True)
            self.matched = False
        del self.echo[: len(expected)]
        self.current += 1
        if self.current < len(self.messages):
            self.send(ctx)
        else:
            ctx.close()

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        print(f"error: {exception!r}", flush=True)
        self.matched = False
        ctx.close()

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        if self.current < len(self.messages):
            print("the connection closed before every echo came back", flush=True)
            self.matched = False
        self.finished.set()


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    messages = [m.encode() for m in sys.argv[2:]] or DEFAULT_MESSAGES
    handler = EchoClientHandler(messages)
    with nioxide.EventLoopGroup(1) as group:
        connected = (
            nioxide.Bootstrap()
            .group(group)
            .channel(nioxide.TcpChannel)
            .option(nioxide.ChannelOption.TCP_NODELAY, True)
            .handler(handler)
            .connect(("127.0.0.1", port))
        )
        try:
            connected.result(timeout=TIMEOUT)
        except OSError as e:
            print(f"connect failed: {e!r}", file=sys.stderr)
            return 1
        if not handler.finished.wait(TIMEOUT):
            print("no answer in time", file=sys.stderr)
            connected.channel.close()
            return 1
        connected.channel.close_future.result(timeout=TIMEOUT)
    print("every byte echoed back" if handler.matched else "MISMATCH", flush=True)
    return 0 if handler.matched else 1


if __name__ == "__main__":
    sys.exit(main())
