"""The runtime examples (examples/c/loop-*.c, examples/python/loop_*.py) run by themselves and
exit 0, each checking its own results (what fired, in what order, on which thread).

The C examples are compiled here with the helper of test_examples.py (cc with -Werror against
include/nioxide.h and the cargo-built libnioxide); the Python ones run with the interpreter
that runs the tests, which has the installed wheel. Every program runs under a timeout.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_examples import EXAMPLES, TIMEOUT, compile_c_examples

C_EXAMPLES = ("loop-timer", "loop-embed")


@pytest.fixture(scope="module")
def runtime_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    return compile_c_examples(C_EXAMPLES, tmp_path_factory.mktemp("c-runtime-examples"))


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("OK"), done.stdout
    return done.stdout


def test_c_loop_timer(runtime_examples: dict[str, list[str]]) -> None:
    out = _run(runtime_examples["loop-timer"])
    assert "(nx_promise_cancel: 1)" in out
    assert "tick 5 " in out and "tick 6" not in out
    assert "should never fire" not in out
    assert "nx_loop_run returned 0" in out


def test_c_loop_embed(runtime_examples: dict[str, list[str]]) -> None:
    out = _run(runtime_examples["loop-embed"])
    tasks = [line for line in out.splitlines() if "from the producer ran" in line]
    assert [line.split("task ")[1].split()[0] for line in tasks] == ["1", "2", "3", "4", "5"]
    assert "nioxide timer (due at 30 ms) fired" in out
    assert "backend timeout 0, descriptor not readable" in out
    assert "follow-up 2" in out


def test_python_loop_timer() -> None:
    out = _run([sys.executable, str(EXAMPLES / "python" / "loop_timer.py")])
    assert "cancelled the timer at 30 ms before it fired: True" in out
    assert "tick 5 " in out and "tick 6" not in out
    assert "should never fire" not in out


def test_python_loop_asyncio() -> None:
    out = _run([sys.executable, str(EXAMPLES / "python" / "loop_asyncio.py")])
    assert "awaited loop.submit(sum, [1, 2, 3]) -> 6" in out
    assert "awaited a promise asyncio completed -> 42" in out
    assert "ran on the asyncio thread only: True" in out
