"""The stack boots, is reused, re-applies changed Terraform, and leaves no process behind — ever."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.core.progress import QuietReporter
from harness.core.reaper import processes_of
from harness.stack import Stack

pytestmark = pytest.mark.slow
TINY_TF = Path(__file__).parent / "data" / "tiny_tf"


@pytest.fixture
def tf_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tf"
    shutil.copytree(TINY_TF, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, tf_dir: Path) -> Iterator[HarnessSettings]:
    run_dir = tmp_path / "run"
    # cold boots on purpose: what a restore from a snapshot does is tests/harness/snapshots' subject
    yield HarnessSettings(project_dir=tmp_path, run_dir=run_dir, terraform_dir=tf_dir, snapshots=False)
    Stack(HarnessSettings(project_dir=tmp_path, run_dir=run_dir)).down()


def _parameter(state_endpoint: str, region: str) -> str:
    ssm = AwsClients(state_endpoint, region).client("ssm")
    return str(ssm.get_parameter(Name="/harness/probe")["Parameter"]["Value"])


def test_boot_reuse_reapply_and_down(settings: HarnessSettings, tf_dir: Path) -> None:
    reporter = QuietReporter()
    state = Stack(settings, reporter, detached=False).up()
    assert not state.reused
    assert {"emulated AWS ready", "postgres ready", "terraform init", "terraform apply"} <= set(reporter.timings)
    assert state.outputs == {"parameter": "/harness/probe"}
    assert _parameter(state.aws_endpoint_url, state.region) == "hello"
    pids = {p.pid for p in processes_of(settings.run_path)}
    assert pids

    second_reporter = QuietReporter()
    again = Stack(settings, second_reporter, detached=False).up()
    assert again.reused and second_reporter.timings == {}  # no apply at all
    assert again.aws_endpoint_url == state.aws_endpoint_url

    (tf_dir / "main.tf").write_text((tf_dir / "main.tf").read_text().replace('"hello"', '"changed"'))
    third_reporter = QuietReporter()
    changed = Stack(settings, third_reporter, detached=False).up()
    assert not changed.reused and "terraform apply" in third_reporter.timings
    assert changed.aws_endpoint_url == state.aws_endpoint_url  # same processes, incremental apply
    assert _parameter(changed.aws_endpoint_url, changed.region) == "changed"

    assert Stack(settings).down() >= len(pids)
    assert processes_of(settings.run_path) == []
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)


class _InterruptAt(QuietReporter):
    def __init__(self, phase_name: str) -> None:
        super().__init__()
        self.phase_name = phase_name

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name == self.phase_name:
            raise KeyboardInterrupt
        with super().phase(name):
            yield


def test_ctrl_c_mid_boot_leaves_nothing(settings: HarnessSettings) -> None:
    stack = Stack(settings, _InterruptAt("terraform init"), detached=True)
    with pytest.raises(KeyboardInterrupt):
        stack.up()
    assert processes_of(settings.run_path) == []
    assert stack.load_state() is None


def test_a_crashed_run_is_reaped_by_the_next_boot(settings: HarnessSettings) -> None:
    first = Stack(settings, detached=True).up()
    old = {p.pid for p in processes_of(settings.run_path)}
    # The owner crashed: its state file is gone, its processes are still there.
    (settings.run_path / "stack.json").unlink()
    second = Stack(settings, detached=True).up()
    assert second.aws_endpoint_url != first.aws_endpoint_url
    assert not old & {p.pid for p in processes_of(settings.run_path)}
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in old)


def test_a_killed_test_session_takes_its_stack_with_it(settings: HarnessSettings, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from harness.core.config import HarnessSettings
        from harness.stack import Stack
        settings = HarnessSettings(project_dir=Path({str(tmp_path)!r}), run_dir=Path({str(settings.run_path)!r}),
                                   terraform_dir=Path({str(settings.terraform_path)!r}))
        Stack(settings, detached=False).up()
        print("up", flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "up"
        children = processes_of(settings.run_path)
        assert children
        owner.send_signal(signal.SIGKILL)  # no cleanup code of the owner runs
        owner.wait(timeout=10)
        deadline = time.monotonic() + 20
        while processes_of(settings.run_path) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_of(settings.run_path) == []
    finally:
        if owner.poll() is None:
            owner.kill()
