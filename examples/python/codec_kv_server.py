"""A tiny key-value server on nioxide's codecs: the line decoder frames the requests, the
string decoder makes them text, the handler below answers each with one line (a str, which
the string encoder writes as UTF-8).

    python codec_kv_server.py [PORT [CONNECTIONS]]

Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
"listening on 127.0.0.1:PORT" as its first line. Exits after CONNECTIONS connections have
closed (0 or nothing: never), or on SIGTERM/Ctrl-C.

The protocol (the same as examples/c/codec-kv-server.c), one request per line ("\\n" or
"\\r\\n"), one answer line per request:
  SET key value   -> OK              (the value is the rest of the line, spaces included)
  GET key         -> VALUE value     or NOT_FOUND
  DEL key         -> DELETED         or NOT_FOUND
  QUIT            -> BYE             (the client then closes the connection)
  anything else   -> ERROR unknown command
A line over 1024 bytes is discarded by the decoder without being held (TooLongFrameException
reaches exception_caught): the answer is "ERROR line too long". A line that is not UTF-8:
"ERROR not UTF-8" (the string decoder is strict: MalformedInputException).

Each connection's pipeline, made by the initializer (the codecs are per channel: they keep
state):
  LineBasedFrameDecoder(1024) -> StringDecoder(errors="strict") -> StringEncoder() -> KvHandler
The framing and the UTF-8 decoding run in Rust; only whole requests, as str, enter Python.
The store is shared by every connection; the server has one loop thread, which alone runs the
handler, so the dict needs no lock.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import nioxide

MAX_LINE = 1024


class KvHandler(nioxide.ChannelInboundHandler):
    """The protocol. Sharable: one instance serves every connection (the store is shared)."""

    sharable = True

    def __init__(self, closed: threading.Semaphore) -> None:
        self.store: dict[str, str] = {}
        self.closed = closed

    def answer(self, request: str) -> str:
        command, _, rest = request.partition(" ")
        if command == "SET" and " " in rest:
            key, _, value = rest.partition(" ")
            self.store[key] = value
            return "OK"
        if command == "GET" and rest:
            value = self.store.get(rest)
            return "NOT_FOUND" if value is None else f"VALUE {value}"
        if command == "DEL" and rest:
            return "DELETED" if self.store.pop(rest, None) is not None else "NOT_FOUND"
        if request == "QUIT":
            return "BYE"
        return "ERROR unknown command"

    def channel_read(self, ctx: nioxide.ChannelHandlerContext, msg: Any) -> None:
        # msg is a str: one whole line, without its line end.
        ctx.write(self.answer(msg) + "\n")

    def channel_read_complete(self, ctx: nioxide.ChannelHandlerContext) -> None:
        ctx.flush()  # one flush for the answers of a read batch

    def exception_caught(self, ctx: nioxide.ChannelHandlerContext, exception: BaseException) -> None:
        if isinstance(exception, nioxide.TooLongFrameException):
            ctx.write_and_flush("ERROR line too long\n")
        elif isinstance(exception, nioxide.MalformedInputException):
            ctx.write_and_flush("ERROR not UTF-8\n")
        else:
            print(f"connection {ctx.channel.id}: {exception!r}, closing", flush=True)
            ctx.close()

    def channel_active(self, ctx: nioxide.ChannelHandlerContext) -> None:
        print(f"connection {ctx.channel.id} from {ctx.channel.remote_address}", flush=True)

    def channel_inactive(self, ctx: nioxide.ChannelHandlerContext) -> None:
        print(f"connection {ctx.channel.id}: closed; {len(self.store)} keys stored", flush=True)
        self.closed.release()


class KvInitializer(nioxide.ChannelInitializer):
    def __init__(self, handler: KvHandler) -> None:
        self.handler = handler

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LineBasedFrameDecoder(MAX_LINE), "lines")
        pipeline.add_last(nioxide.StringDecoder(errors="strict"), "text")
        pipeline.add_last(nioxide.StringEncoder(), "encoder")
        pipeline.add_last(self.handler, "kv")


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    closed = threading.Semaphore(0)
    with nioxide.EventLoopGroup(1) as group:
        bootstrap = (
            nioxide.ServerBootstrap()
            .group(group, group)
            .channel(nioxide.TcpServerChannel)
            .child_option(nioxide.ChannelOption.TCP_NODELAY, True)
            .child_handler(KvInitializer(KvHandler(closed)))
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
