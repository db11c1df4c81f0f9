"""Patch elbv2-target-health-truth: the emulator tells the data plane's truth.

Both moto servers here are real `python -m harness.aws.moto_server` subprocesses (patched, and stock
`--no-patches` for the strict-xfail variants), started with HARNESS_ALB_SNAPSHOT/HARNESS_ECS_SNAPSHOT
naming files in a temporary directory. Each test writes those files as the data plane would
(`write_snapshot` of the shapes the real producers make: `TargetHealth.to_json()` rows as in
`AlbDataPlane.snapshot()`) and reads the answer back
through boto3. The files are shared by the module's tests: each test writes (or deletes) what it needs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.alb.health import DESCRIPTIONS, Reason, State, TargetHealth
from harness.aws import patches
from harness.aws.dataplane_snapshots import ALB_SNAPSHOT_ENV, ECS_SNAPSHOT_ENV, SnapshotReader, write_snapshot
from harness.aws.moto_server import MotoServerProcess
from tests.harness.aws.support import Aws, stock_fails, unique


@pytest.fixture(scope="module")
def snapshot_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("snapshots")
    return {"alb": directory / "alb.json", "ecs": directory / "ecs.json"}


@pytest.fixture(scope="module")
def servers(snapshot_files: dict[str, Path]) -> Iterator[dict[str, MotoServerProcess]]:
    patch_env = {key for patch in patches.discover().values() for key in patch.env}
    env = {key: value for key, value in os.environ.items() if key not in patch_env}
    env |= {ALB_SNAPSHOT_ENV: str(snapshot_files["alb"]), ECS_SNAPSHOT_ENV: str(snapshot_files["ecs"])}
    started = {"patched": MotoServerProcess(env=env), "stock": MotoServerProcess(no_patches=True, env=env)}
    errors: list[BaseException] = []

    def start(server: MotoServerProcess) -> None:
        try:
            server.start()
        except BaseException as exc:  # re-raised below, once both are up or failed
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in started.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise errors[0]
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def server(request: pytest.FixtureRequest, servers: dict[str, MotoServerProcess]) -> Aws:
    """Overrides conftest's: "patched" or "stock" (by stock_fails), both subprocesses of this module."""
    which = getattr(request, "param", "patched")
    return Aws(servers[which].endpoint, patched=which == "patched")


@pytest.fixture
def alb_file(snapshot_files: dict[str, Path]) -> Path:
    return snapshot_files["alb"]


@pytest.fixture
def ecs_file(snapshot_files: dict[str, Path]) -> Path:
    return snapshot_files["ecs"]


# ------------------------------------------------------------------------------------------------
# elbv2-target-health-truth


def target_group(aws: Aws, port: int = 8000) -> str:
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(
        aws.client("elbv2").create_target_group(
            Name=unique("tg")[:32], Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    )


def alb_snapshot(tg_arn: str, *rows: TargetHealth) -> dict[str, list[dict[str, Any]]]:
    """What `AlbDataPlane.snapshot()` returns: target group ARN -> `TargetHealth.to_json()` rows."""
    return {tg_arn: [row.to_json() for row in rows]}


def health(aws: Aws, tg_arn: str, **kwargs: Any) -> dict[tuple[str, int], tuple[str, str | None, str | None]]:
    described = aws.client("elbv2").describe_target_health(TargetGroupArn=tg_arn, **kwargs)
    return {
        (d["Target"]["Id"], d["Target"]["Port"]): (
            d["TargetHealth"]["State"],
            d["TargetHealth"].get("Reason"),
            d["TargetHealth"].get("Description"),
        )
        for d in described["TargetHealthDescriptions"]
    }


def targets(*ports: int) -> list[dict[str, Any]]:
    return [{"Id": "127.0.0.1", "Port": port} for port in ports]


@stock_fails("every registered target is healthy (and one target per Id)")
def test_target_health_is_the_data_planes(server: Aws, alb_file: Path) -> None:
    elbv2 = server.client("elbv2")
    tg = target_group(server)
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8001, 8002, 8003, 8004))
    failed = DESCRIPTIONS[Reason.FAILED_HEALTH_CHECKS]
    checking = DESCRIPTIONS[Reason.INITIAL_HEALTH_CHECKING]
    write_snapshot(
        alb_file,
        alb_snapshot(
            tg,
            TargetHealth("127.0.0.1", 8001, State.HEALTHY),
            TargetHealth("127.0.0.1", 8002, State.UNHEALTHY, Reason.FAILED_HEALTH_CHECKS, failed),
            TargetHealth("127.0.0.1", 8003, State.INITIAL, Reason.INITIAL_HEALTH_CHECKING, checking),
        ),
    )

    assert health(server, tg) == {
        ("127.0.0.1", 8001): ("healthy", None, None),
        ("127.0.0.1", 8002): ("unhealthy", "Target.FailedHealthChecks", failed),
        ("127.0.0.1", 8003): ("initial", "Elb.InitialHealthChecking", checking),
        # registered, not seen by the data plane yet
        ("127.0.0.1", 8004): ("initial", "Elb.RegistrationInProgress", "Target registration is in progress"),
    }
    assert health(server, tg, Targets=targets(8002)) == {
        ("127.0.0.1", 8002): ("unhealthy", "Target.FailedHealthChecks", failed)
    }

    # the data plane catches up: the file changes, the next call answers from it
    write_snapshot(
        alb_file, alb_snapshot(tg, *(TargetHealth("127.0.0.1", p, State.HEALTHY) for p in range(8001, 8005)))
    )
    assert {state for state, _, _ in health(server, tg).values()} == {"healthy"}


@stock_fails("targets are keyed by Id only: the second port replaces the first")
def test_targets_are_keyed_by_id_and_port(server: Aws, alb_file: Path) -> None:
    alb_file.unlink(missing_ok=True)  # moto's own answers (healthy), only the keying differs
    elbv2 = server.client("elbv2")
    tg = target_group(server, port=8000)
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8001, 8002))
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1"}])  # the target group's port

    assert set(health(server, tg)) == {("127.0.0.1", 8000), ("127.0.0.1", 8001), ("127.0.0.1", 8002)}

    elbv2.deregister_targets(TargetGroupArn=tg, Targets=targets(8001))
    assert set(health(server, tg)) == {("127.0.0.1", 8000), ("127.0.0.1", 8002)}
    assert health(server, tg, Targets=targets(8001))[("127.0.0.1", 8001)][1] == "Target.NotRegistered"
    with pytest.raises(ClientError) as error:
        elbv2.deregister_targets(TargetGroupArn=tg, Targets=targets(8001))
    assert error.value.response["Error"]["Code"] == "InvalidTarget"


@stock_fails("a deregistered target vanishes at once instead of draining")
def test_draining_targets_are_listed_until_drained(server: Aws, alb_file: Path) -> None:
    elbv2 = server.client("elbv2")
    tg = target_group(server)
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8001, 8002))
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=targets(8002))
    draining = DESCRIPTIONS[Reason.DEREGISTRATION_IN_PROGRESS]
    write_snapshot(
        alb_file,
        alb_snapshot(
            tg,
            TargetHealth("127.0.0.1", 8001, State.HEALTHY),
            TargetHealth("127.0.0.1", 8002, State.DRAINING, Reason.DEREGISTRATION_IN_PROGRESS, draining),
        ),
    )

    expected = ("draining", "Target.DeregistrationInProgress", draining)
    assert health(server, tg) == {("127.0.0.1", 8001): ("healthy", None, None), ("127.0.0.1", 8002): expected}
    assert health(server, tg, Targets=targets(8002)) == {("127.0.0.1", 8002): expected}

    # registered again while the data plane still drains it: a new registration, not draining
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8002))
    assert health(server, tg)[("127.0.0.1", 8002)][:2] == ("initial", "Elb.RegistrationInProgress")

    # deregistered again and drained: gone from the data plane, gone from the answer
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=targets(8002))
    write_snapshot(alb_file, alb_snapshot(tg, TargetHealth("127.0.0.1", 8001, State.HEALTHY)))
    assert set(health(server, tg)) == {("127.0.0.1", 8001)}


def test_without_an_alb_snapshot_moto_answers(server: Aws, alb_file: Path) -> None:
    alb_file.unlink(missing_ok=True)
    elbv2 = server.client("elbv2")
    tg = target_group(server)
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8001))

    assert health(server, tg) == {("127.0.0.1", 8001): ("healthy", None, None)}

    # a snapshot without this target group: the data plane has not seen it yet
    write_snapshot(alb_file, {})
    assert health(server, tg)[("127.0.0.1", 8001)][:2] == ("initial", "Elb.RegistrationInProgress")


# ------------------------------------------------------------------------------------------------
# the shared reader and writer


def test_reader_follows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = SnapshotReader("HARNESS_TEST_SNAPSHOT")
    assert reader.read() is None  # variable unset
    path = tmp_path / "sub" / "snap.json"
    monkeypatch.setenv("HARNESS_TEST_SNAPSHOT", str(path))
    assert reader.read() is None  # no file yet

    write_snapshot(path, {"a": 1})
    first = reader.read()
    assert first == {"a": 1}
    assert reader.read() is first  # cached while the file is unchanged
    write_snapshot(path, {"a": 2})  # same size, written at once: still seen
    assert reader.read() == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["snap.json"]  # no temporary file left

    path.write_text("[1, 2")
    assert reader.read() is None  # unreadable: no truth rather than a failing API
    path.unlink()
    assert reader.read() is None
