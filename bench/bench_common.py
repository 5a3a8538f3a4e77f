"""What the two Python benchmark servers share: their connection state, and (bench_report.h's
twin) a byte counter with the rusage report on signals:

    SIGUSR1          writes "rusage user_us=U sys_us=S bytes=B" to stdout and carries on;
    SIGTERM, SIGINT  write the same line and exit at once (os._exit: no interpreter tear-down).
"""

import os
import resource
import signal
from typing import Any

BUF_SIZE = 16384


class Conn:
    """One connection: its channel or socket, and the bytes read but not yet echoed back,
    buf[off:len]."""

    __slots__ = ("io", "buf", "view", "off", "len")

    def __init__(self, io: Any) -> None:
        self.io = io
        self.buf = bytearray(BUF_SIZE)
        self.view = memoryview(self.buf)
        self.off = 0
        self.len = 0


def install() -> list[int]:
    """Installs the handlers; returns the one-element list the server adds its bytes to."""
    counter = [0]

    def report(signum: int, _frame: object) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        line = "rusage user_us=%d sys_us=%d bytes=%d\n" % (
            round(ru.ru_utime * 1e6),
            round(ru.ru_stime * 1e6),
            counter[0],
        )
        os.write(1, line.encode())
        if signum != signal.SIGUSR1:
            os._exit(0)

    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, report)
    return counter
