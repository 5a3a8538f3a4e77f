"""stdlib_echo: the benchmark's (e), an echo server on Python's stdlib `selectors` + `socket`.

    python stdlib_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

The same server as nioxide_echo.py, line for line where the APIs allow: single-threaded,
non-blocking, TCP_NODELAY; one read per readiness into the connection's buffer, the echo written
at once; bytes a write could not take wait with EVENT_WRITE interest (and no EVENT_READ) until
they are gone. SIGUSR1 reports rusage, SIGTERM/SIGINT report it and exit (bench_common.py).
"""

import selectors
import socket
import sys

from bench_common import Conn, install


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    sel = selectors.DefaultSelector()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1024)
    server.setblocking(False)
    sel.register(server, selectors.EVENT_READ, None)
    print("listening on 127.0.0.1:%d" % server.getsockname()[1], flush=True)

    EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
    while True:
        for key, _ in sel.select():
            conn = key.data
            if conn is None:
                try:
                    sock, _ = server.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(sock, EVENT_READ, Conn(sock))
                continue
            sock = conn.io
            try:
                if conn.len:
                    # Writable again: finish the pending echo, then read again.
                    try:
                        conn.off += sock.send(conn.view[conn.off : conn.len])
                    except BlockingIOError:
                        continue
                    if conn.off == conn.len:
                        conn.off = conn.len = 0
                        sel.modify(sock, EVENT_READ, conn)
                    continue
                try:
                    n = sock.recv_into(conn.buf)
                except BlockingIOError:
                    continue
                if n == 0:  # end of stream
                    sel.unregister(sock)
                    sock.close()
                    continue
                counter[0] += n
                try:
                    w = sock.send(conn.view[:n])
                except BlockingIOError:
                    w = 0
                if w < n:
                    conn.off, conn.len = w, n
                    sel.modify(sock, EVENT_WRITE, conn)
            except OSError:
                sel.unregister(sock)
                sock.close()


if __name__ == "__main__":
    main()
