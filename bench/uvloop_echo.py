"""uvloop_echo: the benchmark's (h), an asyncio Protocol echo server on uvloop (an anchor).

    python uvloop_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

asyncio's own idiom for an echo, on uvloop's event loop: a Protocol whose data_received writes
the bytes back to its transport; while the transport's buffer is above its high-water mark
(pause_writing) the protocol pauses reading, and resumes it with resume_writing, so the server
never buffers without bound. TCP_NODELAY is asyncio's default for TCP. SIGUSR1 reports rusage,
SIGTERM/SIGINT report it and exit (bench_common.py); uvloop runs Python signal handlers from
its loop.
"""

import asyncio
import sys

import uvloop
from bench_common import install


class Echo(asyncio.Protocol):
    __slots__ = ("transport",)

    counter: list[int] = [0]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport has asyncio.Transport's methods without being its subclass.
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        Echo.counter[0] += len(data)
        self.transport.write(data)

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    Echo.counter = install()
    uvloop.run(serve(port))


if __name__ == "__main__":
    main()
