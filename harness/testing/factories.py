"""Fixture factories, in the pytest-postgresql style: a test suite asks for a second, private local cloud.

    # conftest.py (or a test module)
    from harness.testing.factories import stack_factory

    tiny_stack = stack_factory(terraform_dir="tests/harness/data/tiny_tf", time_scale=10, scope="module")

    def test_something(tiny_stack, stack): ...   # a StackHandle each, two different stacks

The fixture takes the name it is assigned to. It boots a stack with the session's settings except what the
factory is given, in its own run directory (a fresh temporary one unless `run_dir` is given; never the
session stack's), and stops it when its scope ends. A private stack listens on a free SMTP port unless
`smtp_port` is given, so it never collides with the session stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from harness.core.config import HarnessSettings, load_settings
from harness.core.errors import HarnessError, SettingsError
from harness.core.progress import QuietReporter
from harness.stack import Stack
from harness.testing.handle import StackHandle

Scope = Literal["session", "package", "module", "class", "function"]


def private_settings(session: HarnessSettings, overrides: dict[str, Any]) -> HarnessSettings:
    """The session's settings with `overrides` (and a free SMTP port unless one is given); a HarnessError when
    the run directory is the session stack's (a private stack must never stop the shared one)."""
    given = {**session.model_dump(), "smtp_port": None, **overrides}
    try:
        settings = load_settings(given)
    except SettingsError as exc:
        raise HarnessError("stack_factory: " + "; ".join(exc.problems), "fix the factory's arguments") from None
    if settings.run_path == session.run_path:
        raise HarnessError(f"stack_factory: {settings.run_path} is the session stack's run directory",
                           "give the private stack another run_dir, or none (a temporary one)")
    return settings


def stack_factory(
    run_dir: str | Path | None = None,
    terraform_dir: str | Path | None = None,
    time_scale: float | None = None,
    scope: Scope = "module",
    **settings: Any,
) -> Callable[..., Iterator[StackHandle]]:
    """A fixture that boots a private stack (a `StackHandle`) and stops it at the end of `scope`.

    `settings` are further `HarnessSettings` fields (e.g. ``terraform_var_files=[...]``, ``runtime=False``).
    """
    unknown = sorted(set(settings) - set(HarnessSettings.model_fields))
    if unknown:
        raise TypeError(f"stack_factory got unknown settings {unknown}; known: {sorted(HarnessSettings.model_fields)}")
    named = {"run_dir": run_dir, "terraform_dir": terraform_dir, "time_scale": time_scale}
    overrides = {**{key: value for key, value in named.items() if value is not None}, **settings}
    for key in ("run_dir", "terraform_dir"):
        if key in overrides:
            overrides[key] = Path(overrides[key])

    @pytest.fixture(scope=scope)
    def private_stack(
        harness_settings: HarnessSettings, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[StackHandle]:
        given = overrides if "run_dir" in overrides else {**overrides, "run_dir": tmp_path_factory.mktemp("stack")}
        try:
            chosen = private_settings(harness_settings, given)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
        stack = Stack(chosen, QuietReporter(), detached=False)
        try:
            stack.up()
            yield StackHandle.attach(chosen)
        finally:
            stack.down()

    return private_stack
