"""`stack_factory`: a private stack with its own run directory, never the session's, stopped at the end of its
scope; the session stack runs on beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings
from harness.core.errors import HarnessError
from harness.core.reaper import processes_of
from harness.testing.factories import private_settings, stack_factory

TINY_TF = Path(__file__).parent / "data" / "tiny_tf"


def test_private_settings_are_the_sessions_with_the_overrides_and_a_free_smtp_port(tmp_path: Path) -> None:
    session = HarnessSettings(project_dir=tmp_path, run_dir=Path("shared"), region="eu-west-1", smtp_port=2525)
    private = private_settings(session, {"run_dir": tmp_path / "mine", "time_scale": 10})
    assert private.run_path == tmp_path / "mine" and private.time_scale == 10
    assert (private.region, private.project_dir, private.smtp_port) == ("eu-west-1", tmp_path, None)


@pytest.mark.parametrize("run_dir", ["shared", "./shared/"])
def test_a_private_stack_never_takes_the_session_stacks_run_dir(tmp_path: Path, run_dir: str) -> None:
    session = HarnessSettings(project_dir=tmp_path, run_dir=Path("shared"))
    with pytest.raises(HarnessError, match="is the session stack's run directory"):
        private_settings(session, {"run_dir": Path(run_dir)})
    with pytest.raises(HarnessError, match="is the session stack's run directory"):
        private_settings(session, {})  # no run directory of its own


def test_bad_factory_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown settings \\['time_scael'\\]"):
        stack_factory(time_scael=5)
    session = HarnessSettings(project_dir=tmp_path)
    with pytest.raises(HarnessError, match="HARNESS_TIME_SCALE=-1"):
        private_settings(session, {"run_dir": tmp_path / "mine", "time_scale": -1})


PRIVATE_MODULE = '''
import json, os
from pathlib import Path

from harness.testing.factories import stack_factory

tiny_stack = stack_factory(terraform_dir=os.environ["TINY_TF"], time_scale=10, scope="module")


def test_the_private_stack_is_another_stack(tiny_stack, stack):
    assert tiny_stack.run_dir != stack.run_dir
    assert tiny_stack.state.aws_endpoint_url != stack.state.aws_endpoint_url
    assert tiny_stack.state.outputs == {"parameter": "/harness/probe"}
    Path(os.environ["PROBE_OUT"]).write_text(json.dumps({"private": str(tiny_stack.run_dir),
                                                         "session": str(stack.run_dir)}))
'''

AFTER_MODULE = '''
import json, os
from pathlib import Path

from harness.core.reaper import processes_of


def test_the_private_stack_stopped_with_its_module_and_the_session_stack_runs(stack):
    seen = json.loads(Path(os.environ["PROBE_OUT"]).read_text())
    assert processes_of(Path(seen["private"])) == []
    assert processes_of(Path(seen["session"]))
'''


@pytest.mark.slow
def test_a_factory_stack_is_private_and_stopped_at_the_end_of_its_scope(tmp_path: Path) -> None:
    project, session_run_dir, probe = tmp_path / "project", tmp_path / "session-run", tmp_path / "probe.json"
    project.mkdir()
    (project / "test_a_private.py").write_text(PRIVATE_MODULE)
    (project / "test_b_after.py").write_text(AFTER_MODULE)
    env = {name: value for name, value in os.environ.items() if not name.startswith("HARNESS_")}
    env.update(HARNESS_TERRAFORM_DIR=str(TINY_TF), HARNESS_RUN_DIR=str(session_run_dir), TINY_TF=str(TINY_TF),
               PROBE_OUT=str(probe))
    try:
        session = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                 cwd=project, env=env, capture_output=True, text=True, timeout=900)
        assert session.returncode == 0, session.stdout + session.stderr
        assert "2 passed" in session.stdout
        seen = json.loads(probe.read_text())
        private = Path(seen["private"])
        assert Path(seen["session"]) == session_run_dir
        assert private != session_run_dir and not private.is_relative_to(session_run_dir)
        assert processes_of(private) == [] and processes_of(session_run_dir) == []  # the session booted both
    finally:
        for run_dir in (session_run_dir, *([Path(json.loads(probe.read_text())["private"])] if probe.exists() else [])):
            subprocess.run([sys.executable, "-m", "harness.cli", "down", "--run-dir", str(run_dir)], env=env,
                           cwd=project, capture_output=True, timeout=120)
