"""A state file the harness cannot use is reported as such, and never costs a running stack its life."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from harness import __version__
from harness.cli import app
from harness.core.config import HarnessSettings
from harness.core.errors import NewerStateFileError, StateFileError
from harness.core.reaper import marker_env, processes_of
from harness.core.rundir import STATE_FORMAT, RunDir
from harness.stack import Stack

DATA = Path(__file__).parent / "data"
HARNESS = Path(sys.executable).parent / "harness"

VALID = {
    "fingerprint": "f", "backend": "moto", "aws_endpoint_url": "http://127.0.0.1:1", "region": "us-east-1",
    "postgres": {"host": "127.0.0.1", "port": 1, "superuser": "postgres", "password": "p", "data_dir": "/d"},
    "rds": [], "outputs": {}, "detached": True, "owner_pid": 1, "booted_at": 0.0, "timings": {},
    "runtime": True, "harness_version": __version__, "format": STATE_FORMAT,
}


def _write(content: bytes | dict[str, object] | None) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(json.dumps(content))
    return write


_truncated = json.dumps(VALID, indent=2).encode()[:150]
CORRUPTIONS = {
    "binary": (_write(bytes(range(256)) * 4), "binary data"),
    "truncated": (_write(_truncated), "not valid JSON, truncated?"),
    "empty": (_write(b""), "empty"),
    "not an object": (_write(b"[1, 2]"), "a JSON list where an object is expected"),
    "directory": (_write(None), "a directory, not a file"),
    "newer harness": (_write({**VALID, "harness_version": "9.0.0", "guardian": {"pid": 1}}),
                      "written by a newer harness (version 9.0.0"),
    "older harness": (_write({k: v for k, v in VALID.items() if k not in ("outputs", "harness_version")}),
                      "written by an older harness (version unknown): missing outputs"),
    "wrong type": (_write({**VALID, "rds": "none"}), "field rds"),
    "someone else's JSON": (_write({"name": "x"}),
                            "not a harness state file (unknown fields name, no harness_version)"),
    "postgres without port": (_write({**VALID, "postgres": {"host": "127.0.0.1"}}), "field postgres"),
    "older format": (_write({k: v for k, v in VALID.items() if k != "format"}),
                     f"written by an older harness (version {__version__}, format none); this one reads format 1"),
    "newer format": (_write({**VALID, "format": STATE_FORMAT + 1}),
                     f"written by a newer harness (version {__version__}; unknown to this one: format 2)"),
    "format not a number": (_write({**VALID, "format": "1"}), "format '1'"),
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    run = tmp_path / "run"
    run.mkdir()
    yield run
    Stack(HarnessSettings(project_dir=tmp_path, run_dir=run)).down()


def _stack(run_dir: Path) -> Stack:
    return Stack(HarnessSettings(project_dir=run_dir.parent, run_dir=run_dir, terraform_dir=DATA / "tiny_tf"))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_load_state_says_what_it_found(run_dir: Path, name: str) -> None:
    write, found = CORRUPTIONS[name]
    write(RunDir(run_dir).state_file)
    with pytest.raises(StateFileError) as caught:
        _stack(run_dir).load_state()
    assert caught.value.problem.startswith(f"state file unreadable: {RunDir(run_dir).state_file}: ")
    assert found in caught.value.found
    assert "`harness down`" in (caught.value.fix or "")


def test_a_newer_harness_is_named_with_its_version(run_dir: Path) -> None:
    _write({**VALID, "harness_version": "9.0.0", "guardian": {"pid": 1}})(RunDir(run_dir).state_file)
    with pytest.raises(NewerStateFileError) as caught:
        _stack(run_dir).load_state()
    assert caught.value.version == "9.0.0" and caught.value.unknown == ["guardian"]


def test_no_state_file_is_no_stack(run_dir: Path) -> None:
    assert _stack(run_dir).load_state() is None


@pytest.mark.parametrize("command", ["status", "env", "plan"])
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_commands_print_one_error_and_the_fix(run_dir: Path, command: str, name: str) -> None:
    write, found = CORRUPTIONS[name]
    write(RunDir(run_dir).state_file)
    result = CliRunner().invoke(app, [command, "--run-dir", str(run_dir)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # no exception escaped: no traceback
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: state file unreadable:") and found in " ".join(lines)
    assert any(line.startswith("fix: ") and "harness down" in line for line in lines)
    assert "not running" not in result.output


@pytest.fixture
def live_process(run_dir: Path) -> Iterator[psutil.Process]:
    """A process tagged as belonging to the run directory, as every process of a booted stack is."""
    proc = subprocess.Popen(["sleep", "300"], env={**os.environ, **marker_env(run_dir)})
    threading.Thread(target=proc.wait, daemon=True).start()  # reaped the moment it is stopped: no zombie
    yield psutil.Process(proc.pid)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.mark.parametrize("name", ["truncated", "directory", "newer harness"])
def test_up_refuses_to_replace_live_processes_it_cannot_see(
    run_dir: Path, live_process: psutil.Process, name: str
) -> None:
    write, found = CORRUPTIONS[name]
    write(RunDir(run_dir).state_file)
    result = subprocess.run([str(HARNESS), "up", "--run-dir", str(run_dir), "--terraform-dir",
                             str(DATA / "tiny_tf")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: state file unreadable" in result.stderr and found in result.stderr
    assert "1 process(es) of this run directory are running" in result.stderr
    assert live_process.is_running() and live_process.status() != psutil.STATUS_ZOMBIE
    assert not (run_dir / "moto").exists()  # nothing was booted in its place


@pytest.mark.parametrize("name", ["truncated", "directory", "binary"])
def test_down_stops_the_processes_whatever_the_state_holds(
    run_dir: Path, live_process: psutil.Process, name: str
) -> None:
    CORRUPTIONS[name][0](RunDir(run_dir).state_file)
    result = subprocess.run([str(HARNESS), "down", "--run-dir", str(run_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stopped 1 process(es)" in result.stderr
    assert not (RunDir(run_dir).state_file).exists()
    assert processes_of(run_dir) == []


def test_up_boots_over_an_unreadable_state_when_nothing_runs(run_dir: Path) -> None:
    """No process of the run directory is alive, so nothing can be lost: up proceeds (it fails on the
    missing terraform here, which is checked before anything starts)."""
    CORRUPTIONS["directory"][0](RunDir(run_dir).state_file)
    settings = HarnessSettings(project_dir=run_dir.parent, run_dir=run_dir, terraform_dir=DATA / "tiny_tf",
                               terraform="terraform-that-does-not-exist")
    result = CliRunner().invoke(app, ["up", "--run-dir", str(run_dir)], env={
        "HARNESS_TERRAFORM": settings.terraform, "HARNESS_TERRAFORM_DIR": str(settings.terraform_dir)})
    assert result.exit_code == 1 and "terraform not found" in result.output


@pytest.mark.slow
def test_a_truncated_state_file_does_not_cost_the_running_stack(tmp_path: Path) -> None:
    """The probe's case: a booted stack, its state file truncated; `status` says so, `up` leaves it running."""
    tf_dir = tmp_path / "tf"
    shutil.copytree(DATA / "tiny_tf", tf_dir)
    run_dir = tmp_path / "run"
    base = [str(HARNESS)]
    dirs = ["--run-dir", str(run_dir)]
    try:
        booted = subprocess.run([*base, "up", *dirs, "--terraform-dir", str(tf_dir)], capture_output=True,
                                text=True, timeout=600, cwd=tmp_path)
        assert booted.returncode == 0, booted.stderr
        before = {proc.pid for proc in processes_of(run_dir)}
        state = (RunDir(run_dir).state_file).read_text()
        (RunDir(run_dir).state_file).write_text(state[: len(state) // 2])

        status = subprocess.run([*base, "status", *dirs], capture_output=True, text=True, timeout=120)
        assert status.returncode == 1 and "state file unreadable" in status.stderr
        assert f"{len(before)} process(es) of this run directory are running" in status.stderr
        assert "Traceback" not in status.stderr

        again = subprocess.run([*base, "up", *dirs, "--terraform-dir", str(tf_dir)], capture_output=True,
                               text=True, timeout=600, cwd=tmp_path)
        assert again.returncode == 1 and "state file unreadable" in again.stderr
        assert {proc.pid for proc in processes_of(run_dir)} == before  # nothing killed, nothing new

        down = subprocess.run([*base, "down", *dirs], capture_output=True, text=True, timeout=120)
        assert down.returncode == 0 and processes_of(run_dir) == []
    finally:
        Stack(HarnessSettings(project_dir=tmp_path, run_dir=run_dir)).down()
