"""`harness up` by hand, then a test session with default options: the session reuses that stack (same
processes, no apply) and leaves it running; `harness down` stops it. The CLI, the plugin and `harness demo`
share one default time scale, so nothing differs between the two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings
from harness.core.reaper import processes_of
from harness.stack import Stack

pytestmark = pytest.mark.slow
TINY_TF = Path(__file__).parent / "data" / "tiny_tf"

SESSION_TEST = '''
import json, os
from pathlib import Path


def test_uses_the_stack(stack):
    Path(os.environ["PROBE_OUT"]).write_text(json.dumps({"run_dir": str(stack.run_dir),
                                                         "endpoint": stack.state.aws_endpoint_url}))
'''


def _environment(run_dir: Path, probe: Path) -> dict[str, str]:
    """The caller's environment without its HARNESS_* settings: every default applies, as for a user."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HARNESS_")}
    return {**env, "HARNESS_TERRAFORM_DIR": str(TINY_TF), "HARNESS_RUN_DIR": str(run_dir), "PROBE_OUT": str(probe)}


def _harness(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_session_reuses_the_stack_harness_up_started_and_leaves_it_running(tmp_path: Path) -> None:
    project, run_dir, probe = tmp_path / "project", tmp_path / "run", tmp_path / "probe.json"
    project.mkdir()
    (project / "test_uses_stack.py").write_text(SESSION_TEST)
    env = _environment(run_dir, probe)
    stack = Stack(HarnessSettings(project_dir=project, run_dir=run_dir, terraform_dir=TINY_TF))
    try:
        booted = _harness(project, env, "up")
        assert booted.returncode == 0, booted.stderr
        state = stack.load_state()
        assert state is not None and stack.healthy(state)
        pids = sorted(proc.pid for proc in processes_of(run_dir))
        log = run_dir / "terraform" / "terraform.log"
        terraform_log = log.read_text() if log.exists() else None  # none when `up` restored a snapshot

        session = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_uses_stack.py"],
                                 cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert session.returncode == 0, session.stdout + session.stderr

        seen = json.loads(probe.read_text())
        assert Path(seen["run_dir"]) == run_dir and seen["endpoint"] == state.aws_endpoint_url
        assert sorted(proc.pid for proc in processes_of(run_dir)) == pids  # same processes, still running
        assert (log.read_text() if log.exists() else None) == terraform_log  # no init, no apply
        after = stack.load_state()
        assert after is not None and after.fingerprint == state.fingerprint and stack.healthy(after)
    finally:
        stopped = _harness(project, env, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert processes_of(run_dir) == []
