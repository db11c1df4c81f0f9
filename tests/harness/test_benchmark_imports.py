"""Benchmarks import the harness and the services, never the tests (which may change or move at will)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.name)
def test_a_benchmark_does_not_import_tests(path: Path) -> None:
    from_tests = {name for name in _imported_modules(path) if name.split(".")[0] in {"tests", "conftest", "scenarios"}}
    assert not from_tests, f"{path.name} imports {sorted(from_tests)}: move what it needs out of the tests"
