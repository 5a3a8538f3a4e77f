"""An echo client on nioxide's Selector: Java NIO's Selector client (seed 002's NioClient), in
Python.

    python selector_echo_client.py PORT [MESSAGE...]

Connects to 127.0.0.1:PORT without blocking (OP_CONNECT, then finish_connect), sends each
MESSAGE in turn (or a default set, one of them 1 MiB so that writes come out partial), reads
each echo back and prints what was exchanged. Then it half-closes its side and waits for the
server to close. Exits 0 only if every byte came back as sent, 1 otherwise (also on an error
or after 30 s without finishing).
"""

from __future__ import annotations

import sys
import time

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
    deadline = time.monotonic() + TIMEOUT
    matched = True
    with nioxide.Selector() as selector, nioxide.SocketChannel() as channel:
        channel.configure_blocking(False)
        channel.set_option(nioxide.TCP_NODELAY, 1)
        # Java: connect() says whether it connected at once; if not, wait for OP_CONNECT
        # and call finish_connect().
        if channel.connect(("127.0.0.1", port)):
            channel.register(selector, nioxide.OP_READ | nioxide.OP_WRITE)
        else:
            channel.register(selector, nioxide.OP_CONNECT)

        current = 0  # the message being exchanged
        unsent = memoryview(messages[0])  # what is left to send of it
        echo = bytearray()
        done = False
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer in time")
            # One channel, so at most one key; walked the usual way all the same.
            for key in selector.select(timeout=left):
                if key.is_connectable():
                    if not channel.finish_connect():
                        continue  # not yet
                    print(f"connected to 127.0.0.1:{port}")
                    key.interest_ops = nioxide.OP_READ | nioxide.OP_WRITE
                    continue
                if key.is_writable() and current < len(messages):
                    # Send what is left of the message: a write may take only part.
                    unsent = unsent[channel.write(unsent) :]
                    if not unsent:  # all out: wait for the echo only
                        show("sent", messages[current])
                        key.interest_ops = nioxide.OP_READ
                if key.is_readable():
                    want = len(messages[current]) - len(echo) if current < len(messages) else 1
                    data = channel.read(want)
                    if data is None:
                        continue  # nothing there after all
                    if not data:
                        if current < len(messages):
                            raise EOFError("the server closed before echoing everything")
                        print("server closed the connection")
                        done = True  # every echo is in: the normal end
                        break
                    if current == len(messages):
                        print("unexpected bytes after the last echo")
                        matched = False
                        continue
                    echo += data
                    if len(echo) < len(messages[current]):
                        continue  # the rest of the echo is still on its way
                    show("echo", bytes(echo))
                    if echo != messages[current]:
                        print("  MISMATCH: the echo differs from what was sent")
                        matched = False
                    current += 1
                    echo.clear()
                    if current < len(messages):
                        unsent = memoryview(messages[current])
                        key.interest_ops = nioxide.OP_READ | nioxide.OP_WRITE
                    else:
                        # All exchanged: half-close (the server sees end of stream).
                        channel.shutdown_output()
    return matched


def main() -> int:
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} PORT [MESSAGE...]", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    messages = [m.encode() for m in sys.argv[2:] if m] or DEFAULT_MESSAGES
    try:
        matched = exchange(port, messages)
    except (OSError, EOFError, nioxide.NioxideError) as e:  # e.g. ConnectionRefusedError
        print(f"selector_echo_client: {e}", file=sys.stderr)
        return 1
    print(f"{'OK' if matched else 'FAILED'}: {len(messages)} messages exchanged")
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
