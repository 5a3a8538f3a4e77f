"""The codec examples (examples/python/codec_kv_*.py, the key-value line protocol, and
examples/python/length_field_*.py) against each other, as real processes on 127.0.0.1 with
OS-chosen ports: every client must exit 0 (each answer checked), the server must exit 0 by
itself after the one connection; a client facing a server that answers wrongly exits 1."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_examples import (
    EXAMPLES,
    TIMEOUT,
    _start_server,
    stopper,  # noqa: F401 (a fixture)
)

PY = EXAMPLES / "python"
KV_SERVER = [sys.executable, str(PY / "codec_kv_server.py")]
KV_CLIENT = [sys.executable, str(PY / "codec_kv_client.py")]
LF_SERVER = [sys.executable, str(PY / "length_field_server.py")]
LF_CLIENT = [sys.executable, str(PY / "length_field_client.py")]


@pytest.mark.parametrize(
    "server_cmd,client_cmd,said",
    [
        (KV_SERVER, KV_CLIENT, "all 14 answers as expected"),
        (LF_SERVER, LF_CLIENT, "all 7 answers were their messages reversed"),
    ],
)
def test_each_codec_client_checks_its_server(
    stopper: list[subprocess.Popen[str]],  # noqa: F811
    server_cmd: list[str],
    client_cmd: list[str],
    said: str,
) -> None:
    server, port = _start_server(server_cmd)
    stopper.append(server)
    client = subprocess.run([*client_cmd, str(port)], capture_output=True, text=True,
                            timeout=TIMEOUT)  # fmt: skip
    assert client.returncode == 0, client.stdout + client.stderr
    assert said in client.stdout and "MISMATCH" not in client.stdout
    output = server.communicate(timeout=TIMEOUT)[0]
    assert server.returncode == 0, output
    assert "closed" in output, output


def test_the_kv_client_fails_against_a_server_that_answers_otherwise(
    stopper: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    # The echo server answers each request with itself: the client must say so and fail.
    server, port = _start_server([sys.executable, str(PY / "pipeline_echo_server.py")])
    stopper.append(server)
    client = subprocess.run([*KV_CLIENT, str(port)], capture_output=True, text=True,
                            timeout=TIMEOUT)  # fmt: skip
    assert client.returncode == 1, client.stdout + client.stderr
    assert "MISMATCH: expected 'NOT_FOUND'" in client.stdout
    server.communicate(timeout=TIMEOUT)
