"""nioxide_echo: the benchmark's (d), the nioxide Selector echo server in Python.

    python nioxide_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

The same server as stdlib_echo.py, line for line where the APIs allow, on the nioxide module
users install: single-threaded, non-blocking, TCP_NODELAY; one read per readiness into the
connection's buffer, the echo written at once; bytes a write could not take wait with OP_WRITE
interest (and no OP_READ) until they are gone. SIGUSR1 reports rusage, SIGTERM/SIGINT report it
and exit (bench_common.py).
"""

import sys

import nioxide
from bench_common import Conn, install


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    sel = nioxide.Selector()
    server = nioxide.ServerSocketChannel()
    server.bind(("127.0.0.1", port), backlog=1024)
    server.configure_blocking(False)
    server.register(sel, nioxide.OP_ACCEPT, None)
    print("listening on 127.0.0.1:%d" % server.local_address[1], flush=True)

    OP_READ, OP_WRITE, TCP_NODELAY = nioxide.OP_READ, nioxide.OP_WRITE, nioxide.TCP_NODELAY
    while True:
        for key in sel.select():
            conn = key.attachment
            if conn is None:
                channel = server.accept()
                if channel is None:
                    continue
                channel.configure_blocking(False)
                channel.set_option(TCP_NODELAY, 1)
                channel.register(sel, OP_READ, Conn(channel))
                continue
            channel = conn.io
            try:
                if conn.len:
                    # Writable again: finish the pending echo, then read again.
                    conn.off += channel.write(conn.view[conn.off : conn.len])
                    if conn.off == conn.len:
                        conn.off = conn.len = 0
                        key.interest_ops = OP_READ
                    continue
                n = channel.read_into(conn.buf)
                if n is None:  # would block
                    continue
                if n == 0:  # end of stream
                    channel.close()
                    continue
                counter[0] += n
                w = channel.write(conn.view[:n])
                if w < n:
                    conn.off, conn.len = w, n
                    key.interest_ops = OP_WRITE
            except OSError:
                channel.close()


if __name__ == "__main__":
    main()
