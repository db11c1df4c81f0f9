"""Fault injection on real processes: a throttled task still makes progress, only much less of it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.testing.chaos import Throttle, freeze_task, thaw_task

COUNTER = """
import itertools, os, pathlib, sys, time
for n in itertools.count():  # written aside, then renamed: a reader never sees a half-written count
    pathlib.Path(sys.argv[1] + ".tmp").write_text(str(n))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.005)
"""


@pytest.fixture
def task(tmp_path: Path) -> Any:
    counter = tmp_path / "count"
    process = subprocess.Popen([sys.executable, "-c", COUNTER, str(counter)], start_new_session=True)
    task = {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/abc", "harness": {"pids": {"app": process.pid}},
            "counter": counter, "process": process}
    deadline = time.monotonic() + 10
    while not counter.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield task
    process.kill()
    process.wait()


def progress(task: dict[str, Any], seconds: float) -> int:
    start = int(task["counter"].read_text())
    time.sleep(seconds)
    return int(task["counter"].read_text()) - start


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_throttled_task_progresses_at_a_fraction_of_its_speed_and_runs_freely_after(task: dict[str, Any]) -> None:
    free = progress(task, 1.5)
    with Throttle(task, stopped_for=0.3, running_for=0.03):
        throttled = progress(task, 1.5)
    after = progress(task, 1.5)
    assert 0 < throttled < free * 0.4, (free, throttled)
    assert after > free * 0.5 and state(task["process"].pid) != "T"


def test_frozen_task_makes_no_progress_until_thawed(task: dict[str, Any]) -> None:
    assert freeze_task(task) == [task["process"].pid]
    time.sleep(0.1)
    assert progress(task, 0.5) == 0 and state(task["process"].pid) == "T"
    thaw_task(task)
    assert progress(task, 0.5) > 0


def test_throttle_ends_by_itself_when_the_task_is_gone(task: dict[str, Any]) -> None:
    throttle = Throttle(task, stopped_for=0.1, running_for=0.02).start()
    task["process"].kill()
    task["process"].wait()
    throttle._thread.join(timeout=5)
    assert not throttle._thread.is_alive()


def test_throttle_periods_must_be_positive(task: dict[str, Any]) -> None:
    with pytest.raises(HarnessError, match="throttle periods must be positive"):
        Throttle(task, stopped_for=0)
