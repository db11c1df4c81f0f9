"""README's Configuration section is the one list of `HARNESS_*` variables: a row per settings field (with its
default), and every other `HARNESS_*` variable the code reads listed as internal wiring."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings, env_name

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(?P<name>HARNESS_[A-Z0-9_]+)` \| (?P<second>[^|]*) \|")
LITERAL = re.compile(r"""["'](HARNESS_[A-Z0-9_]+)["']""")


def _section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", readme, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def _rows(section: str) -> dict[str, str]:
    rows = [m for m in map(ROW.match, section.splitlines()) if m]
    names = [m["name"] for m in rows]
    assert len(names) == len(set(names)), f"a variable has two rows: {names}"
    return {m["name"]: m["second"].strip() for m in rows}


NO_DEFAULT = "\u2013"  # an en dash: "not set"


def _documented_default(value: object) -> str:
    if value is None:
        return NO_DEFAULT
    if isinstance(value, list):
        return f"`{value!r}`".replace("'", '"')
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def test_every_setting_has_a_row_and_every_row_a_setting() -> None:
    rows = _rows(_section("Configuration"))
    fields = {env_name(field) for field in HarnessSettings.model_fields}
    assert not fields - set(rows), f"settings without a row in README's Configuration table: {fields - set(rows)}"
    assert not set(rows) - fields, f"rows in README's Configuration table that name no setting: {set(rows) - fields}"


# project_dir defaults to where the command runs: its row says so in words.
@pytest.mark.parametrize("field", sorted(set(HarnessSettings.model_fields) - {"project_dir"}))
def test_each_rows_default_is_the_settings_default(field: str) -> None:
    default = HarnessSettings.model_fields[field].get_default(call_default_factory=True)
    expected = _documented_default(default)
    documented = _rows(_section("Configuration"))[env_name(field)]
    assert documented.startswith(expected), f"{env_name(field)}: README says {documented!r}, the default is {expected}"


def test_every_harness_variable_the_code_reads_is_a_setting_or_internal_wiring() -> None:
    settings = set(_rows(_section("Configuration")))
    internal = _rows(_section("Internal wiring (not settings)"))
    assert not settings & set(internal), "a variable is both a setting and internal wiring"
    used: dict[str, set[str]] = {}
    for top in ("harness", "services"):
        for path in (ROOT / top).rglob("*.py"):
            for name in LITERAL.findall(path.read_text()):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    undocumented = {name: where for name, where in used.items() if name not in settings and name not in internal}
    assert not undocumented, f"HARNESS_* variables in code but in neither README table: {undocumented}"
    unused = set(internal) - set(used)
    assert not unused, f"README's internal wiring lists variables no code uses: {unused}"
