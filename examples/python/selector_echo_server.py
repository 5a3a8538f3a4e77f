"""An echo server on nioxide's Selector: Java NIO's Selector server (seed 002's NioServer),
made into an echo, in Python.

    python selector_echo_server.py [PORT [CONNECTIONS]]

Listens on 127.0.0.1:PORT (0 or nothing: the OS chooses) and prints
"listening on 127.0.0.1:PORT" as its first line. Echoes every byte back to its sender.
Exits after CONNECTIONS connections have closed (0 or nothing: never), or on SIGTERM/Ctrl-C.

The pattern, as in Java:
  - one Selector; the listening channel registered for OP_ACCEPT;
  - each accepted channel non-blocking, registered for OP_READ, with a Connection (its
    pending bytes) as the key's attachment;
  - read what arrived, write it back; bytes the socket would not take yet stay pending and the
    key asks for OP_WRITE (and no longer OP_READ) until they are gone, so a client that does
    not read cannot make the server buffer without bound;
  - end of stream: close the connection.
"""

from __future__ import annotations

import signal
import sys

import nioxide


class Connection:
    """One client connection, its key's attachment."""

    def __init__(self, number: int, channel: nioxide.SocketChannel) -> None:
        self.number = number
        self.channel = channel
        self.pending = memoryview(b"")  # read but not yet written back
        self.echoed = 0

    def write_pending(self, key: nioxide.SelectionKey) -> None:
        """Writes what the socket takes; asks for OP_WRITE while bytes are left."""
        while self.pending:
            written = self.channel.write(self.pending)
            if written == 0:
                break  # the socket's send buffer is full: wait for OP_WRITE
            self.pending = self.pending[written:]
            self.echoed += written
        key.interest_ops = nioxide.OP_WRITE if self.pending else nioxide.OP_READ

    def serve(self, key: nioxide.SelectionKey) -> bool:
        """Handles one readiness; returns True when the connection is closed."""
        try:
            if key.is_writable():
                self.write_pending(key)
            elif key.is_readable():
                data = self.channel.read(4096)
                if data is None:  # nothing there after all (it would block)
                    return False
                if not data:
                    print(f"connection {self.number}: end of stream after "
                          f"{self.echoed} bytes echoed, closing")
                    self.channel.close()  # also cancels the key
                    return True
                self.pending = memoryview(data)
                self.write_pending(key)
        except OSError as e:  # e.g. ConnectionResetError: the peer went away
            print(f"connection {self.number}: {e}, closing")
            self.channel.close()
            return True
        return False


def serve(port: int, max_connections: int) -> None:
    # Java: Selector.open(); ServerSocketChannel.open(); bind; configureBlocking(false);
    # register(selector, OP_ACCEPT). Both are context managers: leaving closes them.
    with nioxide.Selector() as selector, nioxide.ServerSocketChannel() as server:
        server.bind(("127.0.0.1", port), backlog=128)
        server.configure_blocking(False)
        server.register(selector, nioxide.OP_ACCEPT)
        address = server.local_address  # the port the OS chose
        assert address is not None  # bound above
        print(f"listening on {address[0]}:{address[1]}", flush=True)

        accepted = closed = 0
        open_connections: set[Connection] = set()
        try:
            while max_connections == 0 or closed < max_connections:
                for key in selector.select():
                    if key.is_acceptable():
                        channel = server.accept()
                        if channel is None:
                            continue  # nothing to accept after all
                        # Accepted channels start in blocking mode, as in Java.
                        channel.configure_blocking(False)
                        channel.set_option(nioxide.TCP_NODELAY, 1)
                        accepted += 1
                        conn = Connection(accepted, channel)
                        channel.register(selector, nioxide.OP_READ, conn)
                        open_connections.add(conn)
                        print(f"connection {accepted}: accepted")
                    elif isinstance(key.attachment, Connection):
                        conn = key.attachment
                        if conn.serve(key):
                            open_connections.discard(conn)
                            closed += 1
                sys.stdout.flush()
        finally:
            for conn in open_connections:
                conn.channel.close()


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    max_connections = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    # SIGTERM ends the server like Ctrl-C: select() is interrupted and the `with` and `finally`
    # blocks close everything.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        serve(port, max_connections)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
