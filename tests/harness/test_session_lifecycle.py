"""A real pytest session's stack: it dies with the session however the session ends, a Ctrl-C is an
interruption (not a failure), and the leak check counts only the session's own processes.

Each test runs pytest in a subprocess on a small test file that uses the `stack` fixture (tiny Terraform),
with the repository's root conftest (the leak check) beside it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings
from harness.core.process import ManagedProcess
from harness.core.reaper import processes_of, reap
from harness.core.rundir import RunDir
from harness.stack import Stack

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TINY_TF = Path(__file__).parent / "data" / "tiny_tf"
BOUND = 60.0  # seconds a dead session's stack may take to go away

HOLDS_THE_STACK = """
import os, time
from pathlib import Path

def test_holds_the_stack(stack):
    Path(os.environ["PROBE_FILE"]).write_text(stack.state.aws_endpoint_url)
    time.sleep(600)
"""

USES_THE_STACK = """
import os
from pathlib import Path

def test_uses_the_stack(stack):
    Path(os.environ["PROBE_FILE"]).write_text(stack.state.aws_endpoint_url)
"""


class Session:
    """One pytest run in its own process group (like a terminal's foreground job)."""

    def __init__(self, directory: Path, test_source: str, run_dir: Path, name: str, *args: str) -> None:
        self.directory = directory
        self.run_dir = run_dir
        self.probe = directory / f"{name}.probe"
        self.output = directory / f"{name}.out"
        test_file = directory / f"test_{name}.py"
        test_file.write_text(textwrap.dedent(test_source))
        env = {**os.environ, "HARNESS_TERRAFORM_DIR": str(directory / "tf"), "PROBE_FILE": str(self.probe)}
        with self.output.open("w") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", test_file.name,
                 "--harness-run-dir", str(run_dir), *args],
                cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                # a shell that started us in the background may ignore SIGINT; the session must not
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.popen.poll() is None, f"the session ended before {what}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s:\n{self.text()}"
            time.sleep(0.2)

    def wait_for_the_test(self) -> str:
        """Wait until the test runs (the stack is up); returns the emulator endpoint it saw."""
        self.wait_for(lambda: self.probe.exists() and bool(self.probe.read_text()), "running test")
        return self.probe.read_text()

    def finish(self, timeout: float = 300) -> int:
        return self.popen.wait(timeout)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def kill_group(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A directory to run sessions in: the root conftest (leak check) and a tiny Terraform."""
    shutil.copy(REPO / "conftest.py", tmp_path / "conftest.py")
    shutil.copytree(TINY_TF, tmp_path / "tf")
    yield tmp_path
    for name in ("run", "other-run", "leaking-run"):
        reap(tmp_path / name)


def wait_until_gone(run_dir: Path) -> None:
    """Within BOUND seconds no process carries `run_dir`'s marker and its state file is gone."""
    deadline = time.monotonic() + BOUND
    while (processes_of(run_dir) or RunDir(run_dir).state_file.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [" ".join(p.cmdline()[:3]) for p in processes_of(run_dir)]
    assert left == [], f"still running {BOUND:.0f}s after the session died: {left}"
    assert not RunDir(run_dir).state_file.exists(), "the dead session's state file is still there"


def foreign_process(directory: Path) -> ManagedProcess:
    """A harness process of another run, started while the session runs (like a second CI job's stack)."""
    other = ManagedProcess(
        name="another session's process",
        argv=[sys.executable, "-c", "import time; time.sleep(600)"],
        run_dir=directory / "other-run",
        log_path=directory / "other-run" / "sleeper.log",
    )
    other.start()
    return other


def test_a_session_killed_during_boot_leaves_nothing(project: Path) -> None:
    run_dir = project / "run"
    session = Session(project, HOLDS_THE_STACK, run_dir, "boot")
    try:
        # The emulator and PostgreSQL run, Terraform is next: the boot is well under way.
        session.wait_for(lambda: RunDir(run_dir).state_file.exists(), "state file")
        assert processes_of(run_dir)
        session.popen.send_signal(signal.SIGKILL)  # no cleanup code of the session runs
        session.popen.wait(30)
        wait_until_gone(run_dir)
    finally:
        session.kill_group()


def test_a_session_killed_during_a_test_leaves_nothing_and_the_next_boots_afresh(project: Path) -> None:
    run_dir = project / "run"
    first = Session(project, HOLDS_THE_STACK, run_dir, "first")
    try:
        first_endpoint = first.wait_for_the_test()
        assert processes_of(run_dir)
        first.popen.send_signal(signal.SIGKILL)
        first.popen.wait(30)
        wait_until_gone(run_dir)
    finally:
        first.kill_group()

    second = Session(project, USES_THE_STACK, run_dir, "second")
    try:
        assert second.finish() == 0, second.text()
        assert second.probe.read_text() != first_endpoint  # a stack of its own, not the dead session's
        assert processes_of(run_dir) == []  # and it stopped what it booted
        assert "leak" not in second.text()
    finally:
        second.kill_group()


HOLD_IN_TWO_WORKERS = """
import os, time
from pathlib import Path
import pytest

@pytest.mark.parametrize("worker", [1, 2])
def test_holds_the_stack(stack, worker):
    if worker == 1:
        Path(os.environ["PROBE_FILE"]).write_text(stack.state.aws_endpoint_url)
    time.sleep(600)
"""


def test_an_xdist_session_killed_during_a_test_leaves_nothing(project: Path) -> None:
    run_dir = project / "run"
    session = Session(project, HOLD_IN_TWO_WORKERS, run_dir, "xdist", "-n", "2")
    try:
        session.wait_for_the_test()
        session.popen.send_signal(signal.SIGKILL)  # the controller; its workers are left to notice
        session.popen.wait(30)
        wait_until_gone(run_dir)
    finally:
        session.kill_group()


def test_a_killed_session_leaves_a_stack_that_was_running_before_it_alone(project: Path) -> None:
    run_dir = project / "run"
    settings = HarnessSettings(project_dir=project, run_dir=run_dir, terraform_dir=project / "tf", time_scale=5.0)
    before = Stack(settings).up()  # `harness up` before the tests, with the plugin's default time scale
    try:
        pids = {p.pid for p in processes_of(run_dir)}
        session = Session(project, HOLDS_THE_STACK, run_dir, "reuser")
        try:
            assert session.wait_for_the_test() == before.aws_endpoint_url  # reused, not booted
            session.popen.send_signal(signal.SIGKILL)
            session.popen.wait(30)
        finally:
            session.kill_group()
        assert not (run_dir / "guardian.log").exists()  # no guardian was armed for a stack not the session's
        time.sleep(3)  # time enough for anything to stop it wrongly
        assert {p.pid for p in processes_of(run_dir)} == pids
        assert Stack(settings).load_state() is not None
    finally:
        Stack(settings).down()


def test_ctrl_c_during_a_test_is_an_interruption_and_stops_the_stack(project: Path) -> None:
    run_dir = project / "run"
    session = Session(project, HOLDS_THE_STACK, run_dir, "interrupted")
    other = None
    try:
        session.wait_for_the_test()
        other = foreign_process(project)  # another session's process, which must not turn this into a failure
        os.killpg(session.popen.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        code = session.finish(timeout=120)
        output = session.text()
        assert code == pytest.ExitCode.INTERRUPTED, output
        assert "KeyboardInterrupt" in output
        assert "failed" not in output and "leak" not in output, output
        assert processes_of(run_dir) == []
        assert not RunDir(run_dir).state_file.exists()
    finally:
        session.kill_group()
        if other is not None:
            other.stop()


LEAKS_ONE_PROCESS = """
import os, sys, time
from pathlib import Path
from harness.core.process import ManagedProcess

def test_leaves_a_process_and_waits(tmp_path):
    leaked = ManagedProcess(name="leaked", argv=[sys.executable, "-c", "import time; time.sleep(600)"],
                            run_dir=Path(os.environ["PROBE_FILE"]).parent / "run", log_path=tmp_path / "leak.log")
    leaked.start()
    Path(os.environ["PROBE_FILE"]).write_text("started")
    while not Path(os.environ["PROBE_FILE"] + ".go").exists():
        time.sleep(0.1)
"""


def test_the_leak_check_counts_only_the_sessions_own_processes(project: Path) -> None:
    session = Session(project, LEAKS_ONE_PROCESS, project / "leaking-run", "leaker")
    other = None
    try:
        session.wait_for_the_test()
        other = foreign_process(project)  # appears while the session runs, as a concurrent session's would
        Path(f"{session.probe}.go").write_text("")
        code = session.finish(timeout=120)
        output = session.text()
        assert code == pytest.ExitCode.TESTS_FAILED, output
        assert "(a leak)" in output and str((project / "run").resolve()) in output
        assert "other-run" not in output
    finally:
        session.kill_group()
        if other is not None:
            other.stop()


def test_ctrl_c_stays_an_interruption_when_the_session_leaked(project: Path) -> None:
    session = Session(project, LEAKS_ONE_PROCESS, project / "leaking-run", "leaker")
    try:
        session.wait_for_the_test()
        os.killpg(session.popen.pid, signal.SIGINT)
        code = session.finish(timeout=120)
        output = session.text()
        assert code == pytest.ExitCode.INTERRUPTED, output  # the leak is reported, the exit code stays 2
        assert "(a leak)" in output and str((project / "run").resolve()) in output
    finally:
        session.kill_group()


def test_harness_keep_leaves_the_stack_running_for_the_next_session(project: Path) -> None:
    run_dir = project / "run"
    kept = Session(project, USES_THE_STACK, run_dir, "kept", "--harness-keep")
    try:
        assert kept.finish() == 0, kept.text()
        assert "leak" not in kept.text()  # kept on purpose
        names = [" ".join(p.cmdline()[:3]) for p in processes_of(run_dir)]
        assert any("harness.emulator.moto_server" in name for name in names)
        assert not any("harness.testing.guardian" in name for name in names)  # disarmed: it exited without reaping
        assert RunDir(run_dir).state_file.exists()
    finally:
        kept.kill_group()

    reuser = Session(project, USES_THE_STACK, run_dir, "reuser")
    try:
        assert reuser.finish() == 0, reuser.text()
        assert reuser.probe.read_text() == kept.probe.read_text()  # adopted: it was kept and is healthy
        assert RunDir(run_dir).state_file.exists()  # and not stopped: it was running before this session
    finally:
        reuser.kill_group()
