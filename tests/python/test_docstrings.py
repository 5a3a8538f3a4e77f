"""Runs the examples in the docstrings of the installed stub (`nioxide/_nioxide.pyi`) and
of the package's Python modules, so the documentation cannot drift from the code."""

from __future__ import annotations

import ast
import doctest
import pathlib

import pytest

import nioxide
import nioxide._future
import nioxide._pipeline
import nioxide._runtime
import nioxide.exceptions

STUB = pathlib.Path(nioxide.__file__).with_name("_nioxide.pyi")


def _stub_docstrings() -> list[tuple[str, str]]:
    tree = ast.parse(STUB.read_text(), str(STUB))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc and ">>>" in doc:
                found.append((getattr(node, "name", "<module>"), doc))
    return found


def test_the_stub_ships_in_the_wheel() -> None:
    assert STUB.is_file()
    assert STUB.with_name("py.typed").is_file()


@pytest.mark.parametrize(("name", "doc"), _stub_docstrings(), ids=lambda v: v if "\n" not in v else "")
def test_stub_examples(name: str, doc: str) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc, {"nioxide": nioxide}, name, str(STUB), 0)
    assert test.examples, name
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) failed (see output)"


@pytest.mark.parametrize(
    "module", [nioxide, nioxide.exceptions, nioxide._runtime, nioxide._future, nioxide._pipeline]
)
def test_module_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
