"""The pipeline echo examples (examples/python/pipeline_echo_*.py, Netty's EchoServer and
EchoClient) against each other and against the Selector examples, as real processes on
127.0.0.1 with OS-chosen ports: every client must exit 0 (each echoed byte matched), the
server must exit 0 by itself after the one connection; a corrupted byte makes the pipeline
client exit 1."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_examples import (
    EXAMPLES,
    PY_CLIENT,
    TIMEOUT,
    _corrupting_server,
    _start_server,
    c_examples,  # noqa: F401 (a fixture)
    stopper,  # noqa: F401 (a fixture)
)

PIPE_SERVER = [sys.executable, str(EXAMPLES / "python" / "pipeline_echo_server.py")]
PIPE_CLIENT = [sys.executable, str(EXAMPLES / "python" / "pipeline_echo_client.py")]


@pytest.mark.parametrize("client_name", ["pipeline", "selector-python", "selector-c"])
def test_the_pipeline_server_echoes_each_client(
    c_examples: dict[str, list[str]],  # noqa: F811
    stopper: list[subprocess.Popen[str]],  # noqa: F811
    client_name: str,
) -> None:
    server, port = _start_server(PIPE_SERVER)
    stopper.append(server)
    client_cmd = {
        "pipeline": PIPE_CLIENT,
        "selector-python": PY_CLIENT,
        "selector-c": c_examples["selector-echo-client"],
    }[client_name]
    client = subprocess.run([*client_cmd, str(port)], capture_output=True, text=True,
                            timeout=TIMEOUT)  # fmt: skip
    assert client.returncode == 0, client.stdout + client.stderr
    assert "MISMATCH" not in client.stdout
    output = server.communicate(timeout=TIMEOUT)[0]
    assert server.returncode == 0, output
    # (the clients' default sets differ by a few bytes; each holds a 1 MiB message)
    assert "bytes echoed" in output and "closed after 1048" in output, output


def test_the_pipeline_client_talks_to_the_c_selector_server(
    c_examples: dict[str, list[str]],  # noqa: F811
    stopper: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    server, port = _start_server(c_examples["selector-echo-server"])
    stopper.append(server)
    client = subprocess.run([*PIPE_CLIENT, str(port), "one", "two three"],
                            capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    assert client.returncode == 0, client.stdout + client.stderr
    assert client.stdout.count("\nechoed ") == 2 and "every byte echoed back" in client.stdout
    server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0


def test_the_pipeline_client_detects_a_wrong_byte() -> None:
    listener, thread = _corrupting_server()
    with listener:
        client = subprocess.run(
            [*PIPE_CLIENT, str(listener.getsockname()[1]), "hello world"],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        thread.join(TIMEOUT)
    assert client.returncode == 1, client.stdout + client.stderr
    assert "MISMATCH" in client.stdout
