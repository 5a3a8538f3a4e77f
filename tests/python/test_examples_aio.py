"""The AIO echo examples (examples/python/aio_echo_{server,client}.py) against each other,
the Selector examples and the C AIO examples, as real processes on 127.0.0.1 with OS-chosen ports: the
client must exit 0 (every echoed byte matched), the server must exit 0 by itself after the
one connection."""

from __future__ import annotations

import subprocess
import sys

import pytest

from test_examples import (  # noqa: F401 (stopper: a fixture)
    EXAMPLES,
    PY_CLIENT,
    PY_SERVER,
    TIMEOUT,
    _start_server,
    compile_c_examples,
    stopper,
)

AIO_SERVER = [sys.executable, str(EXAMPLES / "python" / "aio_echo_server.py")]
AIO_CLIENT = [sys.executable, str(EXAMPLES / "python" / "aio_echo_client.py")]


@pytest.mark.parametrize(
    "server_cmd, client_cmd",
    [
        (AIO_SERVER, AIO_CLIENT),
        ([*AIO_SERVER, "--write-all"], PY_CLIENT),
        (PY_SERVER, AIO_CLIENT),
    ],
    ids=["aio-aio", "aio-write-all-selector", "selector-aio"],
)
def test_aio_echo_pairing(
    stopper: list[subprocess.Popen[str]], server_cmd: list[str], client_cmd: list[str]
) -> None:
    server, port = _start_server(server_cmd)
    stopper.append(server)
    client = subprocess.run([*client_cmd, str(port)], capture_output=True, text=True, timeout=TIMEOUT)
    assert client.returncode == 0, client.stdout + client.stderr
    assert client.stdout.count("echo ") == 4, client.stdout
    assert "MISMATCH" not in client.stdout
    assert client.stdout.rstrip().endswith("OK: 4 messages exchanged"), client.stdout
    output = server.communicate(timeout=TIMEOUT)[0]
    assert server.returncode == 0, output
    assert "connection 1: accepted" in output


def test_aio_client_fails_without_a_server() -> None:
    # Nobody listens: the client reports the refused connect and exits 1, without hanging.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = subprocess.run([*AIO_CLIENT, str(port)], capture_output=True, text=True, timeout=TIMEOUT)
    assert client.returncode == 1, client.stdout + client.stderr
    assert "error" in client.stdout


@pytest.fixture(scope="module")
def c_aio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Compiles the C AIO echo server and client; returns their command lines."""
    return compile_c_examples(
        ("aio-echo-server", "aio-echo-client"), tmp_path_factory.mktemp("c-aio-examples")
    )


@pytest.mark.parametrize("python_side", ["server", "client"])
def test_aio_echo_across_c_and_python(
    c_aio: dict[str, list[str]], stopper: list[subprocess.Popen[str]], python_side: str
) -> None:
    server_cmd = AIO_SERVER if python_side == "server" else c_aio["aio-echo-server"]
    client_cmd = c_aio["aio-echo-client"] if python_side == "server" else AIO_CLIENT
    server, port = _start_server(server_cmd)
    stopper.append(server)
    client = subprocess.run([*client_cmd, str(port)], capture_output=True, text=True, timeout=TIMEOUT)
    assert client.returncode == 0, client.stdout + client.stderr
    output = server.communicate(timeout=TIMEOUT)[0]
    assert server.returncode == 0, output
