"""streams_line_echo: the line benchmark's Python anchor, (C): asyncio Streams on uvloop.

    python streams_line_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

asyncio's high-level idiom for a line protocol, on uvloop's event loop: asyncio.start_server
with a handler coroutine per connection that awaits reader.readline() and writes each line back
with writer.write(), then awaits writer.drain() as the asyncio documentation asks after a write
(it returns at once unless the transport is above its high-water mark, so the server never
buffers without bound). A line longer than the stream's limit (64 KiB) ends the connection.
SIGUSR1 reports rusage and the bytes echoed, SIGTERM/SIGINT report and exit
(bench/bench_common.py).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import uvloop  # noqa: E402
from bench_common import install  # noqa: E402

counter: list[int] = [0]


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line or line[-1:] != b"\n":
                break  # end of stream (a partial last line is dropped)
            counter[0] += len(line)
            writer.write(line)
            await writer.drain()
    except (ConnectionError, ValueError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main() -> None:
    global counter
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    uvloop.run(serve(port))


if __name__ == "__main__":
    main()
