"""ManagedProcess: the child's environment, inherited or exact, always carries the run marker."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.core.process import ManagedProcess
from harness.core.reaper import RUN_MARKER

PRINT_ENVIRONMENT = "import json, os; print(json.dumps(dict(os.environ)))"


def child_environment(run_dir: Path, inherit_env: bool) -> dict[str, str]:
    log = run_dir / f"env-inherit-{inherit_env}.log"
    child = ManagedProcess(
        name="environment printer",
        argv=[sys.executable, "-c", PRINT_ENVIRONMENT],
        run_dir=run_dir,
        log_path=log,
        env={"MAILSTACK_TEST_GIVEN": "given"},
        inherit_env=inherit_env,
    )
    child.start()
    assert child.popen is not None
    assert child.popen.wait(30) == 0, log.read_text()
    return dict(json.loads(log.read_text()))


def test_the_child_inherits_this_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSTACK_TEST_INHERITED", "inherited")
    env = child_environment(tmp_path, inherit_env=True)
    assert env["MAILSTACK_TEST_INHERITED"] == "inherited"
    assert env["MAILSTACK_TEST_GIVEN"] == "given"
    assert env[RUN_MARKER] == str(tmp_path.resolve())


def test_exact_environment_leaves_out_what_was_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSTACK_TEST_INHERITED", "inherited")
    env = child_environment(tmp_path, inherit_env=False)
    assert "MAILSTACK_TEST_INHERITED" not in env
    assert env["MAILSTACK_TEST_GIVEN"] == "given"
    assert env[RUN_MARKER] == str(tmp_path.resolve())
