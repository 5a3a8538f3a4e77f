"""aio_echo: the benchmark's (k), the nioxide AIO (completion handler) echo server in Python.

    python aio_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

Java NIO.2's echo server on the nioxide module users install: a one-thread
AsynchronousChannelGroup; the accept handler starts the next accept and then the connection's
chain read -> write -> read, with no read timeout. The chain's state (the channel, its buffer,
the bytes left to write) is each operation's attachment. A raw write may complete short: its
handler writes the rest before reading again. TCP_NODELAY on each connection.
The main thread only waits for signals: SIGUSR1 reports rusage (the whole process, the loop
thread included), SIGTERM/SIGINT report it and exit (bench_common.py).
"""

from __future__ import annotations

import signal
import sys

import nioxide
from bench_common import BUF_SIZE, install


class Conn:
    """One connection: the attachment of each of its operations."""

    __slots__ = ("channel", "buf", "pending")

    def __init__(self, channel: nioxide.AsynchronousSocketChannel) -> None:
        self.channel = channel
        self.buf = bytearray(BUF_SIZE)
        self.pending = memoryview(b"")  # read but not yet written back


class ReadHandler(nioxide.CompletionHandler[int, Conn]):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def completed(self, result: int, conn: Conn) -> None:
        if result < 0:  # end of stream
            conn.channel.close()
            return
        self.counter[0] += result
        conn.pending = memoryview(conn.buf)[:result]
        conn.channel.write(conn.pending, conn, WRITE)

    def failed(self, exc: BaseException, conn: Conn) -> None:
        conn.channel.close()


class WriteHandler(nioxide.CompletionHandler[int, Conn]):
    def completed(self, result: int, conn: Conn) -> None:
        conn.pending = conn.pending[result:]
        if conn.pending:  # a short write: the rest first
            conn.channel.write(conn.pending, conn, self)
        else:
            conn.pending.release()  # the buffer is read into again
            conn.channel.read(conn.buf, conn, READ)

    def failed(self, exc: BaseException, conn: Conn) -> None:
        conn.channel.close()


WRITE = WriteHandler()
READ: ReadHandler  # made in main, with the byte counter


class Acceptor(nioxide.CompletionHandler[nioxide.AsynchronousSocketChannel, None]):
    def __init__(self, listener: nioxide.AsynchronousServerSocketChannel) -> None:
        self.listener = listener

    def completed(self, channel: nioxide.AsynchronousSocketChannel, attachment: None) -> None:
        self.listener.accept(None, self)  # the next accept first, as Java's servers do
        channel.set_option(nioxide.TCP_NODELAY, 1)
        conn = Conn(channel)
        channel.read(conn.buf, conn, READ)

    def failed(self, exc: BaseException, attachment: None) -> None:
        print(f"aio_echo: accept failed: {exc!r}", file=sys.stderr, flush=True)


def main() -> None:
    global READ
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    READ = ReadHandler(install())
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    listener = nioxide.AsynchronousServerSocketChannel.open(group)
    listener.bind(("127.0.0.1", port), backlog=1024)
    address = listener.local_address
    assert isinstance(address, tuple)  # a TCP address: (host, port)
    print("listening on 127.0.0.1:%d" % address[1], flush=True)
    listener.accept(None, Acceptor(listener))
    # The loop thread serves; this one runs the signal handlers (SIGTERM/SIGINT exit).
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
