"""`python -m harness.emulator.moto_server`: readiness, the patch listing, patch selection, clean shutdown, and the
run marker that lets the reaper find a server a crashed test left behind."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from harness.aws import fidelity as patches
from harness.core.reaper import processes_running, reap
from harness.emulator.moto_process import MotoServerProcess
from harness.emulator.moto_server import PATCHES_PATH
from tests.harness.aws.support import Aws

pytestmark = pytest.mark.slow


def listed_patches(endpoint: str) -> list[str]:
    with urllib.request.urlopen(endpoint + PATCHES_PATH, timeout=5) as response:
        return list(json.load(response)["patches"])


def test_serves_with_every_patch_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = MotoServerProcess(tmp_path)
    server.start()
    try:
        assert listed_patches(server.endpoint) == list(patches.discover())
        popen = server.process.popen
        assert popen is not None
        popen.send_signal(signal.SIGTERM)
        assert popen.wait(10) == 0
    finally:
        server.stop()


def test_carries_the_run_marker_so_the_reaper_stops_it(tmp_path: Path) -> None:
    server = MotoServerProcess(tmp_path)
    server.start()
    try:
        found = processes_running(tmp_path, "harness.emulator.moto_server")
        assert [proc.pid for proc in found] == [server.process.pid]
        assert reap(tmp_path, grace=5) == 1
        assert server.process.popen is not None
        server.process.popen.wait(10)
        assert not server.process.alive()
    finally:
        server.stop()


def test_selected_patches_and_their_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Exported, it would win over the patch's "true"; the exact environment leaves it out.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    env = {k: v for k, v in os.environ.items() if k != "MOTO_IAM_LOAD_MANAGED_POLICIES"}
    with MotoServerProcess(tmp_path, patches=["iam-managed-policies"], env=env, inherit_env=False) as server:
        assert listed_patches(server.endpoint) == ["iam-managed-policies"]
        iam = Aws(server.endpoint, patched=True).client("iam")
        policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        assert policy["Policy"]["PolicyName"] == "AmazonECSTaskExecutionRolePolicy"


def test_no_patches_is_stock_moto(tmp_path: Path) -> None:
    with MotoServerProcess(tmp_path, no_patches=True) as server:
        assert listed_patches(server.endpoint) == []


def test_unknown_patch_name_exits_with_the_known_names(tmp_path: object) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "harness.emulator.moto_server", "--patch", "no-such-patch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no-such-patch" in result.stderr
    assert "sqs-redrive-allow-policy" in result.stderr
