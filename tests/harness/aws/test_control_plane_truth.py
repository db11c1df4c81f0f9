"""Patches elbv2-target-health-truth and ecs-tasks-truth: the emulator tells the data plane's truth.

Both moto servers here are real `python -m harness.emulator.moto_server` subprocesses (patched, and stock
`--no-patches` for the strict-xfail variants), started with HARNESS_ALB_TRUTH/HARNESS_ECS_TRUTH
naming files in a temporary directory. Each test writes those files as the data plane would
(`write_truth` of the shapes the real producers make, parsed as the daemon parses them: `TargetHealth.to_json()`
rows as in `AlbDataPlane.snapshot()`, and `EcsRunner.snapshot()` over real `Task` records) and reads the answer back
through boto3. The files are shared by the module's tests: each test writes (or deletes) what it needs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.aws import fidelity as patches
from harness.aws.ecs.model import Service
from harness.aws.ecs.runner import EcsRunner
from harness.aws.ecs.tasks import StopCode, Task, TaskStatus, new_task_id, task_arn
from harness.aws.elbv2.health import DESCRIPTIONS, Reason, State, TargetHealth
from harness.core.jsonfile import write_json_atomically
from harness.core.rundir import ALB_TRUTH_ENV, ECS_TRUTH_ENV
from harness.core.truth import AlbTruth, DnsTruth, EcsTruth, TruthReader, write_truth
from harness.emulator.moto_process import MotoServerProcess
from tests.harness.aws.support import Aws, stock_fails, unique


@pytest.fixture(scope="module")
def truth_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("truth")
    return {"run": directory, "alb": directory / "alb.json", "ecs": directory / "ecs.json"}


@pytest.fixture(scope="module")
def servers(truth_files: dict[str, Path]) -> Iterator[dict[str, MotoServerProcess]]:
    patch_env = {key for patch in patches.discover().values() for key in patch.env}
    env = {key: value for key, value in os.environ.items() if key not in patch_env}
    env |= {ALB_TRUTH_ENV: str(truth_files["alb"]), ECS_TRUTH_ENV: str(truth_files["ecs"])}
    run_dir = truth_files["run"]
    started = {
        "patched": MotoServerProcess(run_dir, env=env, inherit_env=False),
        "stock": MotoServerProcess(run_dir, no_patches=True, env=env, inherit_env=False),
    }
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
def alb_file(truth_files: dict[str, Path]) -> Path:
    return truth_files["alb"]


@pytest.fixture
def ecs_file(truth_files: dict[str, Path]) -> Path:
    return truth_files["ecs"]


# ------------------------------------------------------------------------------------------------
# elbv2-target-health-truth


def target_group(aws: Aws, port: int = 8000) -> str:
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(
        aws.client("elbv2").create_target_group(
            Name=unique("tg")[:32], Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    )


def alb_truth(tg_arn: str, *rows: TargetHealth) -> AlbTruth:
    """What the daemon makes of `AlbDataPlane.snapshot()`: target group ARN -> `TargetHealth.to_json()` rows."""
    return AlbTruth.of({tg_arn: [row.to_json() for row in rows]})


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
    write_truth(
        alb_file,
        alb_truth(
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
    write_truth(
        alb_file, alb_truth(tg, *(TargetHealth("127.0.0.1", p, State.HEALTHY) for p in range(8001, 8005)))
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
    write_truth(
        alb_file,
        alb_truth(
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
    write_truth(alb_file, alb_truth(tg, TargetHealth("127.0.0.1", 8001, State.HEALTHY)))
    assert set(health(server, tg)) == {("127.0.0.1", 8001)}


def test_without_an_alb_truth_moto_answers(server: Aws, alb_file: Path) -> None:
    alb_file.unlink(missing_ok=True)
    elbv2 = server.client("elbv2")
    tg = target_group(server)
    elbv2.register_targets(TargetGroupArn=tg, Targets=targets(8001))

    assert health(server, tg) == {("127.0.0.1", 8001): ("healthy", None, None)}

    # a truth file without this target group: the data plane has not seen it yet
    write_truth(alb_file, AlbTruth())
    assert health(server, tg)[("127.0.0.1", 8001)][:2] == ("initial", "Elb.RegistrationInProgress")


# ------------------------------------------------------------------------------------------------
# ecs-tasks-truth


def ecs_service(aws: Aws, desired: int = 2) -> dict[str, Any]:
    ecs = aws.client("ecs")
    cluster = ecs.create_cluster(clusterName=unique("cluster"))["cluster"]
    family = unique("api")
    definition = ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256}]
    )["taskDefinition"]
    service = ecs.create_service(
        cluster=cluster["clusterName"], serviceName=unique("api"), taskDefinition=family, desiredCount=desired
    )["service"]
    return {
        "cluster": cluster["clusterName"],
        "cluster_arn": cluster["clusterArn"],
        "family": family,
        "definition_arn": definition["taskDefinitionArn"],
        "service": service["serviceName"],
        "service_arn": service["serviceArn"],
    }


def runner_task(world: dict[str, Any], status: TaskStatus, service: bool = True, ip: str = "127.0.0.2") -> Task:
    task_id = new_task_id()
    task = Task(
        task_id=task_id,
        arn=task_arn(world["cluster_arn"], task_id),
        cluster_arn=world["cluster_arn"],
        task_definition_arn=world["definition_arn"],
        family=world["family"],
        group=f"service:{world['service']}" if service else f"family:{world['family']}",
        service_arn=world["service_arn"] if service else None,
        ip=ip,
    )
    if status is TaskStatus.STOPPED:
        task.mark_stopping("Essential container in task exited", StopCode.ESSENTIAL_CONTAINER_EXITED)
        task.set_status(TaskStatus.RUNNING)
    task.set_status(status)
    return task


def runner_truth(world: dict[str, Any], desired: int, tasks: list[Task]) -> EcsTruth:
    """`EcsRunner.snapshot()` itself, run over a stand-in for the runner's state (model + tasks), parsed as
    the daemon parses it."""
    service = Service(
        arn=world["service_arn"],
        name=world["service"],
        cluster_arn=world["cluster_arn"],
        task_definition_arn=world["definition_arn"],
        desired_count=desired,
    )
    state = SimpleNamespace(
        _lock=threading.Lock(),
        _model=SimpleNamespace(services=[service]),
        _tasks={task.task_id: task for task in tasks},
    )
    return EcsTruth.of(EcsRunner.snapshot(state))  # type: ignore[arg-type]


@pytest.fixture
def ecs_world(server: Aws, ecs_file: Path) -> dict[str, Any]:
    """A service (desired 2) run by the 'runner': one RUNNING, one PENDING, one STOPPED task, plus a
    standalone RUNNING task of the same family; the truth is written to HARNESS_ECS_TRUTH."""
    world = ecs_service(server, desired=2)
    running = runner_task(world, TaskStatus.RUNNING)
    pending = runner_task(world, TaskStatus.PENDING, ip="127.0.0.3")
    stopped = runner_task(world, TaskStatus.STOPPED, ip="127.0.0.4")
    standalone = runner_task(world, TaskStatus.RUNNING, service=False, ip="127.0.0.5")
    write_truth(ecs_file, runner_truth(world, 2, [running, pending, stopped, standalone]))
    return world | {"running": running, "pending": pending, "stopped": stopped, "standalone": standalone}


@stock_fails("runningCount is 0 and pendingCount the desired count, whatever runs")
def test_describe_services_counts_the_runners_tasks(server: Aws, ecs_world: dict[str, Any]) -> None:
    ecs = server.client("ecs")
    (service,) = ecs.describe_services(cluster=ecs_world["cluster"], services=[ecs_world["service"]])["services"]

    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (2, 1, 1)
    deployment = service["deployments"][0]
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (2, 1, 1)


@stock_fails("ListTasks knows only RunTask tasks and ignores serviceName")
def test_list_tasks_lists_the_runners_tasks(server: Aws, ecs_world: dict[str, Any]) -> None:
    ecs = server.client("ecs")
    cluster = ecs_world["cluster"]

    def listed(**filters: Any) -> set[str]:
        return set(ecs.list_tasks(cluster=cluster, **filters)["taskArns"])

    running, pending, stopped = (ecs_world[k].arn for k in ("running", "pending", "stopped"))
    standalone = ecs_world["standalone"].arn
    assert listed() == {running, pending, standalone}  # desiredStatus RUNNING unless asked
    assert listed(serviceName=ecs_world["service"]) == {running, pending}
    assert listed(serviceName=ecs_world["service"], desiredStatus="STOPPED") == {stopped}
    assert listed(family=ecs_world["family"], desiredStatus="RUNNING") == {running, pending, standalone}
    assert listed(startedBy="ecs-svc/harness") == {running, pending}
    assert listed(family="no-such-family") == set()
    other = ecs.create_cluster(clusterName=unique("other"))["cluster"]["clusterName"]
    assert ecs.list_tasks(cluster=other)["taskArns"] == []


@stock_fails("DescribeTasks knows only RunTask tasks")
def test_describe_tasks_describes_the_runners_tasks(server: Aws, ecs_world: dict[str, Any]) -> None:
    ecs = server.client("ecs")
    running, stopped = ecs_world["running"], ecs_world["stopped"]
    missing = "0" * 32

    described = ecs.describe_tasks(cluster=ecs_world["cluster"], tasks=[running.arn, stopped.task_id, missing])

    tasks = {t["taskArn"]: t for t in described["tasks"]}
    assert set(tasks) == {running.arn, stopped.arn}
    shown = tasks[running.arn]
    assert shown["lastStatus"] == "RUNNING" and shown["desiredStatus"] == "RUNNING"
    assert shown["taskDefinitionArn"] == ecs_world["definition_arn"]
    assert shown["group"] == f"service:{ecs_world['service']}"
    assert shown["startedAt"].timestamp() == pytest.approx(running.started_at, abs=0.01)
    assert shown["attachments"][0]["details"] == [{"name": "privateIPv4Address", "value": "127.0.0.2"}]
    assert [c["name"] for c in shown["containers"]] == [c.name for c in running.containers]
    assert "harness" not in shown
    assert tasks[stopped.arn]["lastStatus"] == "STOPPED"
    assert tasks[stopped.arn]["stopCode"] == "EssentialContainerExited"
    assert described["failures"] == [{"arn": missing, "reason": "MISSING"}]


def test_moto_run_task_tasks_are_kept(aws_patched: Aws, ecs_world: dict[str, Any]) -> None:
    ecs = aws_patched.client("ecs")
    own = ecs.run_task(cluster=ecs_world["cluster"], taskDefinition=ecs_world["family"], launchType="FARGATE")
    own_arn = own["tasks"][0]["taskArn"]

    listed = set(ecs.list_tasks(cluster=ecs_world["cluster"], family=ecs_world["family"])["taskArns"])
    assert {own_arn, ecs_world["running"].arn, ecs_world["standalone"].arn} <= listed
    assert own_arn not in ecs.list_tasks(cluster=ecs_world["cluster"], serviceName=ecs_world["service"])["taskArns"]
    described = ecs.describe_tasks(cluster=ecs_world["cluster"], tasks=[own_arn, ecs_world["running"].arn])
    assert {t["taskArn"] for t in described["tasks"]} == {own_arn, ecs_world["running"].arn}


def test_without_an_ecs_truth_moto_answers(aws_patched: Aws, ecs_file: Path) -> None:
    ecs_file.unlink(missing_ok=True)
    world = ecs_service(aws_patched, desired=2)
    ecs = aws_patched.client("ecs")

    (service,) = ecs.describe_services(cluster=world["cluster"], services=[world["service"]])["services"]
    assert (service["runningCount"], service["pendingCount"]) == (0, 2)  # moto's
    assert ecs.list_tasks(cluster=world["cluster"])["taskArns"] == []

    # a truth file without this service: the runner has started nothing for it yet
    write_truth(ecs_file, EcsTruth())
    (service,) = ecs.describe_services(cluster=world["cluster"], services=[world["service"]])["services"]
    assert (service["runningCount"], service["pendingCount"]) == (0, 0)


@pytest.fixture
def aws_patched(servers: dict[str, MotoServerProcess]) -> Aws:
    return Aws(servers["patched"].endpoint, patched=True)


# ------------------------------------------------------------------------------------------------
# the shared reader and writer


def test_reader_follows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = TruthReader("HARNESS_TEST_TRUTH", DnsTruth)
    assert reader.read() is None  # variable unset
    path = tmp_path / "sub" / "truth.json"
    monkeypatch.setenv("HARNESS_TEST_TRUTH", str(path))
    assert reader.read() is None  # no file yet

    write_truth(path, DnsTruth({"a.example": {443: "127.0.0.1:1"}}))
    first = reader.read()
    assert first == DnsTruth({"a.example": {443: "127.0.0.1:1"}})
    assert reader.read() is first  # cached while the file is unchanged
    write_truth(path, DnsTruth({"a.example": {443: "127.0.0.1:2"}}))  # same size, written at once: still seen
    assert reader.read() == DnsTruth({"a.example": {443: "127.0.0.1:2"}})
    assert [p.name for p in path.parent.iterdir()] == ["truth.json"]  # no temporary file left

    path.write_text("[1, 2")
    assert reader.read() is None  # unreadable: no truth rather than a failing API
    path.unlink()
    assert reader.read() is None


def test_a_truth_file_of_an_older_harness_is_no_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The shape before format numbers (a bare target group map): refused by name, moto's answers stay."""
    path = tmp_path / "alb.json"
    monkeypatch.setenv("HARNESS_TEST_TRUTH", str(path))
    write_json_atomically(path, {"arn:tg": [{"id": "127.0.0.1", "port": 8001, "state": "healthy"}]})
    assert TruthReader("HARNESS_TEST_TRUTH", AlbTruth).read() is None
    assert "written by an older harness (format none); this one reads format 1" in caplog.text
