"""`python -m harness.aws.moto_server`: readiness, the patch listing, patch selection, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import urllib.request

import pytest

from harness.aws import patches
from harness.aws.moto_server import PATCHES_PATH, MotoServerProcess
from tests.harness.aws.support import Aws

pytestmark = pytest.mark.slow


def listed_patches(endpoint: str) -> list[str]:
    with urllib.request.urlopen(endpoint + PATCHES_PATH, timeout=5) as response:
        return list(json.load(response)["patches"])


def test_serves_with_every_patch_and_stops_on_sigterm() -> None:
    server = MotoServerProcess().start()
    try:
        assert listed_patches(server.endpoint) == list(patches.discover())
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
    finally:
        server.stop()


def test_selected_patches_and_their_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_IAM_LOAD_MANAGED_POLICIES"}
    with MotoServerProcess(patches=["iam-managed-policies"], env=env) as server:
        assert listed_patches(server.endpoint) == ["iam-managed-policies"]
        iam = Aws(server.endpoint, patched=True).client("iam")
        policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        assert policy["Policy"]["PolicyName"] == "AmazonECSTaskExecutionRolePolicy"


def test_no_patches_is_stock_moto() -> None:
    with MotoServerProcess(no_patches=True) as server:
        assert listed_patches(server.endpoint) == []


def test_unknown_patch_name_exits_with_the_known_names(tmp_path: object) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "harness.aws.moto_server", "--patch", "no-such-patch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no-such-patch" in result.stderr
    assert "sqs-redrive-allow-policy" in result.stderr
