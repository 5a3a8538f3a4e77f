"""An echo client on nioxide's completion-handler AIO: seed 002's AIO client (Java NIO.2's
AsynchronousSocketChannel with Futures), in Python.

    python aio_echo_client.py PORT [MESSAGE...]

Connects to 127.0.0.1:PORT, sends each MESSAGE in turn (or a default set, one of them 1 MiB),
reads each echo back and prints what was exchanged, the way Java's client does with
`Future.get()`: connect(), write_all() and read() return futures, and the client waits on
them with `result(timeout)`. Then it half-closes its side and waits for the server's end of
stream. Exits 0 only if every byte came back as sent, 1 otherwise (also on an error or a
timeout).
"""

from __future__ import annotations

import sys

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
    print(f"{label} {len(data)} bytes: {text!r}")


def exchange(port: int, messages: list[bytes]) -> bool:
    """Sends each message, reads its echo back; returns whether every echo matched."""
    matched = True
    with nioxide.AsynchronousChannelGroup.with_threads(1) as group:
        with nioxide.AsynchronousSocketChannel.open(group) as channel:
            channel.connect(("127.0.0.1", port), timeout=TIMEOUT).result(TIMEOUT)
            channel.set_option(nioxide.TCP_NODELAY, 1)
            buffer = bytearray(64 * 1024)
            for message in messages:
                show("sent", message)
                # The whole message leaves (write_all), while the echo is read back.
                sent = channel.write_all(message)
                echo = bytearray()
                while len(echo) < len(message):
                    n = channel.read(buffer, timeout=TIMEOUT).result(TIMEOUT)
                    if n < 0:
                        print("the server closed the connection early")
                        return False
                    echo += buffer[:n]
                assert sent.result(TIMEOUT) == len(message)
                show("echo", bytes(echo))
                if echo != message:
                    print("MISMATCH: the echo differs from what was sent")
                    matched = False
            channel.shutdown_output()
            if channel.read(buffer, timeout=TIMEOUT).result(TIMEOUT) != -1:
                print("MISMATCH: the server sent more than the echo")
                matched = False
    if matched:
        print(f"OK: {len(messages)} messages exchanged")
    return matched


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    port = int(sys.argv[1])
    messages = [m.encode() for m in sys.argv[2:]] or DEFAULT_MESSAGES
    try:
        return 0 if exchange(port, messages) else 1
    except Exception as e:  # noqa: BLE001 - reported, then a failing exit status
        print(f"error: {e!r}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
