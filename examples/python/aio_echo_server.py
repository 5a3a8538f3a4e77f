"""An echo server on nioxide's completion-handler AIO: seed 002's AIO echo server (Java NIO.2's
AsynchronousServerSocketChannel with CompletionHandlers), in Python.

    python aio_echo_server.py [PORT [CONNECTIONS]] [--write-all]

Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
"listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/Ctrl-C.

The pattern, as in Java:
  - accept(attachment, handler): the accept handler starts the next accept first, then the
    connection's first read;
  - each connection is a chain read → write → read whose state (the channel, its buffer) is
    the attachment passed from operation to operation; never two reads or two writes pending
    on a channel at once (a second would raise ReadPendingError / WritePendingError);
  - a raw write may take only part of the bytes: the write handler writes the rest before the
    next read (Java's `if (buffer.hasRemaining()) channel.write(buffer, ...)`). With
    --write-all the server uses write_all instead, the write queue Java never had: it
    completes once with the whole length;
  - a read of -1 (end of stream) or a failure closes the connection.
The handlers run on the group's thread; the main thread only waits.
"""

from __future__ import annotations

import signal
import sys
import threading

import nioxide

BUFFER_SIZE = 64 * 1024


class Connection:
    """The attachment of one connection's read → write → read chain."""

    def __init__(self, server: Server, number: int, channel: nioxide.AsynchronousSocketChannel) -> None:
        self.server = server
        self.number = number
        self.channel = channel
        self.buffer = bytearray(BUFFER_SIZE)
        self.pending = memoryview(b"")  # read but not yet written back
        self.echoed = 0

    def close(self) -> None:
        self.channel.close()
        print(f"connection {self.number}: closed after echoing {self.echoed} bytes")
        sys.stdout.flush()
        self.server.connection_closed()


class ReadHandler(nioxide.CompletionHandler[int, Connection]):
    def completed(self, result: int, conn: Connection) -> None:
        if result < 0:  # end of stream
            conn.close()
            return
        conn.pending = memoryview(conn.buffer)[:result]
        if conn.server.write_all:
            conn.channel.write_all(conn.pending, conn, WRITE)
        else:
            conn.channel.write(conn.pending, conn, WRITE)

    def failed(self, exc: BaseException, conn: Connection) -> None:
        print(f"connection {conn.number}: read failed: {exc!r}")
        conn.close()


class WriteHandler(nioxide.CompletionHandler[int, Connection]):
    def completed(self, result: int, conn: Connection) -> None:
        conn.echoed += result
        conn.pending = conn.pending[result:]
        if conn.pending:  # a short raw write: the rest first
            conn.channel.write(conn.pending, conn, self)
        else:
            conn.pending.release()
            conn.channel.read(conn.buffer, conn, READ)

    def failed(self, exc: BaseException, conn: Connection) -> None:
        print(f"connection {conn.number}: write failed: {exc!r}")
        conn.close()


READ, WRITE = ReadHandler(), WriteHandler()


class Server(nioxide.CompletionHandler[nioxide.AsynchronousSocketChannel, None]):
    """The accept handler: accepts the next connection, then starts this one's chain."""

    def __init__(self, listener: nioxide.AsynchronousServerSocketChannel, max_connections: int, write_all: bool) -> None:
        self.listener = listener
        self.max_connections = max_connections
        self.write_all = write_all
        self.accepted = 0
        self.closed = 0
        self.done = threading.Event()
        self.lock = threading.Lock()

    def completed(self, channel: nioxide.AsynchronousSocketChannel, attachment: None) -> None:
        self.accepted += 1
        if not self.max_connections or self.accepted < self.max_connections:
            self.listener.accept(None, self)
        print(f"connection {self.accepted}: accepted from {channel.remote_address}")
        sys.stdout.flush()
        conn = Connection(self, self.accepted, channel)
        channel.read(conn.buffer, conn, READ)

    def failed(self, exc: BaseException, attachment: None) -> None:
        if self.listener.is_open():
            print(f"accept failed: {exc!r}")
        self.done.set()

    def connection_closed(self) -> None:
        with self.lock:
            self.closed += 1
            if self.max_connections and self.closed >= self.max_connections:
                self.done.set()


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    port = int(args[0]) if args else 0
    max_connections = int(args[1]) if len(args) > 1 else 0
    write_all = "--write-all" in sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with nioxide.AsynchronousChannelGroup.with_threads(1) as group:
        with nioxide.AsynchronousServerSocketChannel.open(group) as listener:
            listener.bind(("127.0.0.1", port))
            print(f"listening on 127.0.0.1:{listener.local_address[1]}")
            sys.stdout.flush()
            server = Server(listener, max_connections, write_all)
            listener.accept(None, server)
            try:
                # Waits in short slices so that Ctrl-C and SIGTERM get through.
                while not server.done.wait(0.2):
                    pass
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
