"""The Selector echo examples (examples/c, examples/python) run against each other.

Each pairing of server and client runs as real processes on 127.0.0.1 with an OS-chosen port:
the client must exit 0 (every echoed byte matched), the server must exit 0 by itself after the
one connection. A server that corrupts a byte must make each client exit 1. The C examples are
compiled here against include/nioxide.h (or NIOXIDE_INCLUDE_DIR) and the cargo-built
libnioxide (NIOXIDE_LIB_DIR, else the newest of target/release and target/debug); the Python ones import the installed wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 60  # seconds, for any one program

PY_SERVER = [sys.executable, str(EXAMPLES / "python" / "selector_echo_server.py")]
PY_CLIENT = [sys.executable, str(EXAMPLES / "python" / "selector_echo_client.py")]


def _library_dir() -> Path:
    if os.environ.get("NIOXIDE_LIB_DIR"):
        return Path(os.environ["NIOXIDE_LIB_DIR"])
    built = [
        ROOT / "target" / profile / "libnioxide.so"
        for profile in ("release", "debug")
        if (ROOT / "target" / profile / "libnioxide.so").exists()
    ]
    if not built:
        pytest.fail("libnioxide.so is not built (cargo build); set NIOXIDE_LIB_DIR")
    return max(built, key=lambda p: p.stat().st_mtime).parent


def compile_c_examples(names: Iterable[str], out: Path) -> dict[str, list[str]]:
    """Compiles examples/c/NAME.c for each name into `out`, as run-demo.sh does: against
    include/nioxide.h (or NIOXIDE_INCLUDE_DIR) and the cargo-built libnioxide, found through an
    rpath. Returns their command lines by name."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler")
    lib_dir = _library_dir().resolve()  # the symlink below needs an absolute target
    (out / "lib").mkdir(exist_ok=True)
    # The library's soname is libnioxide.so.0.
    (out / "lib" / "libnioxide.so.0").symlink_to(lib_dir / "libnioxide.so")
    include_dir = os.environ.get("NIOXIDE_INCLUDE_DIR") or str(ROOT / "include")
    flags = ["-O2", "-g", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-pthread"]
    flags.append(f"-I{include_dir}")
    libs = [f"-L{lib_dir}", "-lnioxide", f"-Wl,-rpath,{out / 'lib'}"]
    commands = {}
    for name in names:
        source = EXAMPLES / "c" / f"{name}.c"
        subprocess.run(
            [cc, *flags, "-o", str(out / name), str(source), *libs], check=True, timeout=TIMEOUT
        )
        commands[name] = [str(out / name)]
    return commands


@pytest.fixture(scope="module")
def c_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Compiles the two Selector examples; returns their command lines."""
    return compile_c_examples(
        ("selector-echo-server", "selector-echo-client"), tmp_path_factory.mktemp("c-examples")
    )


def _start_server(
    command: list[str], connections: str = "1"
) -> tuple[subprocess.Popen[str], int]:
    """Starts a server for `connections` connections ("0": no limit); returns it and the port
    of its first line."""
    server = subprocess.Popen(
        [*command, "0", connections], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert server.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(server.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(TIMEOUT)
    first = line[0].strip() if line else ""
    if not first.startswith("listening on 127.0.0.1:"):
        server.kill()
        rest = server.communicate(timeout=TIMEOUT)[0]
        pytest.fail(f"the server did not say where it listens: {first!r} {rest}")
    return server, int(first.rsplit(":", 1)[1])


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[str]]]:
    """Kills whatever the test started and left running, and closes its pipe."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    "server_name, client_name",
    [("c", "python"), ("python", "c"), ("c", "c"), ("python", "python")],
)
def test_echo_pairing(
    c_examples: dict[str, list[str]],
    stopper: list[subprocess.Popen[str]],
    server_name: str,
    client_name: str,
) -> None:
    server_cmd = c_examples["selector-echo-server"] if server_name == "c" else PY_SERVER
    client_cmd = c_examples["selector-echo-client"] if client_name == "c" else PY_CLIENT
    server, port = _start_server(server_cmd)
    stopper.append(server)

    client = subprocess.run(
        [*client_cmd, str(port)], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert client.returncode == 0, client.stdout + client.stderr
    # The default set: three short messages and a 1 MiB one, each echoed and checked.
    assert client.stdout.count("echo ") == 4, client.stdout
    assert "MISMATCH" not in client.stdout
    assert client.stdout.rstrip().endswith("OK: 4 messages exchanged"), client.stdout

    output = server.communicate(timeout=TIMEOUT)[0]
    assert server.returncode == 0, output
    assert "connection 1: accepted" in output
    assert "connection 1: end of stream after" in output


@pytest.mark.parametrize("client_name", ["c", "python"])
def test_client_messages_from_the_command_line(
    c_examples: dict[str, list[str]], stopper: list[subprocess.Popen[str]], client_name: str
) -> None:
    server, port = _start_server(c_examples["selector-echo-server"])
    stopper.append(server)
    client_cmd = c_examples["selector-echo-client"] if client_name == "c" else PY_CLIENT
    client = subprocess.run(
        [*client_cmd, str(port), "one", "two three"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert client.returncode == 0, client.stdout + client.stderr
    assert 'echo 3 bytes: "one"' in client.stdout.replace("'", '"')
    assert 'echo 9 bytes: "two three"' in client.stdout.replace("'", '"')
    server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0


def _corrupting_server() -> tuple[socket.socket, threading.Thread]:
    """A blocking echo server for one connection that flips one bit of the 5th byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def run() -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        offset = 0
        with conn:
            while data := conn.recv(65536):
                echo = bytearray(data)
                if offset <= 4 < offset + len(echo):
                    echo[4 - offset] ^= 0x01
                offset += len(echo)
                conn.sendall(echo)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize("client_name", ["c", "python"])
def test_client_detects_a_wrong_byte(c_examples: dict[str, list[str]], client_name: str) -> None:
    listener, thread = _corrupting_server()
    with listener:
        client_cmd = c_examples["selector-echo-client"] if client_name == "c" else PY_CLIENT
        client = subprocess.run(
            [*client_cmd, str(listener.getsockname()[1]), "hello world"],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        thread.join(TIMEOUT)
    assert client.returncode == 1, client.stdout + client.stderr
    assert "MISMATCH" in client.stdout


@pytest.mark.parametrize("client_name", ["c", "python"])
def test_client_reports_a_refused_connect(
    c_examples: dict[str, list[str]], client_name: str
) -> None:
    # A port nobody listens on: bind one, close it, connect there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client_cmd = c_examples["selector-echo-client"] if client_name == "c" else PY_CLIENT
    client = subprocess.run(
        [*client_cmd, str(port)], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert client.returncode == 1, client.stdout + client.stderr
    assert "refused" in client.stderr.lower(), client.stderr


@pytest.mark.parametrize("server_name", ["c", "python"])
def test_server_exits_on_sigterm(
    c_examples: dict[str, list[str]], stopper: list[subprocess.Popen[str]], server_name: str
) -> None:
    server_cmd = c_examples["selector-echo-server"] if server_name == "c" else PY_SERVER
    server, port = _start_server(server_cmd, connections="0")
    stopper.append(server)
    # A connection stays open while the server is asked to stop: it closes it and exits 0.
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        server.send_signal(signal.SIGTERM)
        server.wait(TIMEOUT)
        assert conn.recv(4) == b""
    assert server.returncode == 0
