"""Every third-party module the harness and the services import is a declared requirement of theirs, so a
dependency that arrived only through another package (and leaves with it) fails here, not on a fresh machine."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "harness": ["requirements/harness.txt", "services/requirements.txt"],
    "services/mailstack": ["services/requirements.txt"],
}
FIRST_PARTY = {"harness", "mailstack"}
# Imported only by the test support (pytest plugin, fixtures) that the `test` extra installs.
TEST_EXTRA = {"pytest", "hypothesis"}


def declared(files: list[str]) -> set[str]:
    names: set[str] = set()
    for name in files:
        for line in (ROOT / name).read_text().splitlines():
            match = re.match(r"\s*([A-Za-z0-9_.-]+)", line)
            if match and not line.lstrip().startswith("#"):
                names.add(canonical(match.group(1)))
    return names


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_levels(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                found.setdefault(module.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_requirement() -> None:
    distributions = importlib.metadata.packages_distributions()
    missing: dict[str, str] = {}
    for folder, files in SOURCES.items():
        wanted = declared(files)
        for module, where in imported_top_levels(ROOT / folder).items():
            if module in sys.stdlib_module_names or module in FIRST_PARTY or module in TEST_EXTRA:
                continue
            dists = {canonical(d) for d in distributions.get(module, [])}
            assert dists, f"{module} (imported in {sorted(where)[0]}) is not installed"
            if not dists & wanted:
                missing[module] = f"{sorted(dists)} imported in {sorted(where)[0]}, declared in none of {files}"
    assert not missing, missing
