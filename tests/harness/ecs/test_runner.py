"""EcsRunner against a real moto server, running real processes."""

from __future__ import annotations

import json
import time

import pytest

from harness.aws.ecs.images import ImageSource
from harness.aws.ecs.tasks import TaskStatus
from harness.aws.rds.binding import RdsBinding
from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.reaper import processes_of
from harness.core.truth import EcsTruth
from tests.harness.ecs.conftest import ECHO_DIR, ECR, EcsWorld, wait_for


def _running(runner, service: str, count: int, timeout: float = 10.0, other_than: tuple[str, ...] = ()):
    def found():
        tasks = [t for t in runner.service_tasks(service) if t.running and t.task_id not in other_than]
        return len(tasks) == count and tasks

    return wait_for(found, timeout, f"{count} running task(s) of {service}")


def test_service_runs_with_secrets_env_and_target(world: EcsWorld):
    task_def = world.register("echo", secrets=[
        {"name": "API_TOKEN", "valueFrom": world.ssm_arn},
        {"name": "DB_HOST", "valueFrom": "/mailstack/test/db/host"},
        {"name": "DB_PORT", "valueFrom": "/mailstack/test/db/port"},
        {"name": "DB_PASSWORD", "valueFrom": f"{world.secret_arn}:password::"},
        {"name": "DB_USER", "valueFrom": f"{world.secret_arn}:username::"},
    ])
    world.service("echo", task_def, desired=1)
    binding = RdsBinding(identifier="db", emulated_host="db.abc.us-east-1.rds.amazonaws.com", emulated_port=5432,
                         host="127.0.0.1", port=54321, dbname="mailstack", username="mailstack",
                         master_secret_arn=world.secret_arn, password_known=True)
    runner = world.runner(rds_bindings=[binding]).start()
    [task] = _running(runner, "echo", 1)
    assert task.arn.startswith(f"arn:aws:ecs:us-east-1:123456789012:task/mailstack-test/{task.task_id}")
    assert len(task.task_id) == 32 and task.ip.startswith("127.")
    response = wait_for(lambda: _try(world, task.ip, "/env"), 10, "the echo server")
    env = response.json()
    assert env["API_TOKEN"] == "s3cr3t-token"
    assert (env["DB_USER"], env["DB_PASSWORD"]) == ("mailstack", "pw-from-rds")
    assert (env["DB_HOST"], env["DB_PORT"]) == ("127.0.0.1", "54321")  # RDS endpoint -> local Postgres
    assert env["BIND_HOST"] == task.ip and env["PORT"] == str(world.port)
    assert env["AWS_ENDPOINT_URL"] == world.clients.endpoint_url
    assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    assert env["PYTHONUNBUFFERED"] == "1"  # from the Dockerfile's ENV
    assert world.targets() == {(task.ip, world.port)}


def _try(world: EcsWorld, ip: str, path: str):
    try:
        response = world.get(ip, path)
    except Exception:
        return None
    return response if response.status_code == 200 else None


def test_scale_to_two_on_distinct_loopback_ips_then_to_zero(world: EcsWorld):
    service = world.service("echo", world.register("echo"), desired=1)
    runner = world.runner().start()
    _running(runner, "echo", 1)
    world.client("ecs").update_service(cluster=world.cluster_arn, service="echo", desiredCount=2)
    tasks = _running(runner, "echo", 2)
    ips = {t.ip for t in tasks}
    assert len(ips) == 2  # same containerPort, different addresses, like awsvpc ENIs
    for ip in ips:
        assert wait_for(lambda ip=ip: _try(world, ip, "/health"), 10, f"{ip} serving").text == "ok"
    wait_for(lambda: world.targets() == {(ip, world.port) for ip in ips}, 5, "both targets registered")
    snapshot = runner.snapshot()["services"][service]
    assert (snapshot["desiredCount"], snapshot["runningCount"], snapshot["pendingCount"]) == (2, 2, 0)
    assert {t["attachments"][0]["details"][0]["value"] for t in snapshot["tasks"]} == ips
    published = json.loads((world.run_dir / "ecs" / "snapshot.json").read_text())  # for other processes
    assert published["services"][service]["runningCount"] == 2
    assert EcsTruth.of(runner.snapshot()).services[service].runningCount == 2  # as the daemon publishes it

    world.client("ecs").update_service(cluster=world.cluster_arn, service="echo", desiredCount=0)
    wait_for(lambda: not runner.service_tasks("echo"), 10, "scale in to zero")
    wait_for(lambda: all(t.last_status is TaskStatus.STOPPED for t in tasks), 10, "tasks stopped")
    assert world.targets() == set()
    assert {t.stop_code for t in tasks} == {"ServiceSchedulerInitiated"}
    assert {t.exit_code for t in tasks} == {0}  # SIGTERM handled: graceful exit
    assert processes_of(world.run_dir) == []


def test_killed_task_is_restarted_after_backoff(world: EcsWorld):
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner().start()
    [first] = _running(runner, "echo", 1)
    killed_at = time.monotonic()
    runner.kill_task(first.task_id)
    [second] = _running(runner, "echo", 1, timeout=15, other_than=(first.task_id,))
    waited = time.monotonic() - killed_at
    assert second.task_id != first.task_id
    assert waited >= 10 / 20 * 0.9  # the first backoff step: 10 s at time scale 20
    assert first.last_status is TaskStatus.STOPPED
    assert (first.exit_code, first.stop_code) == (137, "EssentialContainerExited")
    assert first.stopped_reason == "Essential container in task exited"
    assert runner.backoff.failures(second.service_arn) == 1
    wait_for(lambda: world.targets() == {(second.ip, world.port)}, 5, "target replaced")


def test_stop_task_is_replaced_without_backoff_and_stop_deregisters(world: EcsWorld):
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner().start()
    [first] = _running(runner, "echo", 1)
    runner.stop_task(first.task_id)
    [second] = _running(runner, "echo", 1, timeout=10, other_than=(first.task_id,))
    assert second.task_id != first.task_id
    assert (first.stop_code, first.stopped_reason) == ("UserInitiated", "Task stopped by user")
    assert runner.backoff.failures(second.service_arn) == 0
    wait_for(lambda: world.targets() == {(second.ip, world.port)}, 5, "only the new target")
    runner.stop()
    assert world.targets() == set()
    assert second.last_status is TaskStatus.STOPPED
    assert processes_of(world.run_dir) == []


def test_run_before_services_runs_first_by_name_and_by_tag(world: EcsWorld):
    world.register("schema", ["migrate"], ports=False)
    world.register("seed", ["migrate"], ports=False, tags={"harness:run-before-services": "true"})
    world.register("ignored", ["migrate"], ports=False, tags={"harness:run-before-services": "false"})
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner(run_before_services=["schema"]).start()
    assert [t.family for t in runner.run_before] == ["schema", "seed"]
    [service_task] = _running(runner, "echo", 1)
    for task in runner.run_before:
        assert task.last_status is TaskStatus.STOPPED and task.exit_code == 0
        assert task.stopped_at <= service_task.created_at
        assert task.group == f"family:{task.family}"
    assert "migrate: done" in runner.log_path(runner.run_before[0].task_id).read_text()
    assert len(runner.snapshot()["standalone"]) == 2


def test_failing_run_before_task_raises_with_the_log_tail(world: EcsWorld):
    world.register("schema", ["migrate"], ports=False, env={"MIGRATE_EXIT": "3"})
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner(run_before_services=["schema"])
    with pytest.raises(HarnessError) as raised:
        runner.start()
    message = str(raised.value)
    assert "run-before-services task schema" in message and "exited with code 3" in message
    assert 'relation "mail" does not exist' in message
    assert runner.tasks()[0].exit_code == 3
    assert not runner.service_tasks("echo")  # the services never started
    assert processes_of(world.run_dir) == []


def test_run_before_task_that_does_not_exit_is_stopped_at_the_timeout_with_the_log_tail(world: EcsWorld):
    world.register("schema", ["serve"])  # a server never exits
    runner = world.runner(run_before_services=["schema"], run_before_timeout=3)
    with pytest.raises(ReadinessTimeoutError) as raised:
        runner.start()
    message = str(raised.value)
    assert "run-before-services task schema did not exit within 3s" in message
    assert "echo server listening on" in message
    assert runner.tasks()[0].last_status is TaskStatus.STOPPED
    assert processes_of(world.run_dir) == []


def test_log_lines_land_in_cloudwatch_logs(world: EcsWorld):
    world.register("schema", ["migrate"], ports=False)
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner(run_before_services=["schema"]).start()
    [task] = _running(runner, "echo", 1)
    wait_for(lambda: _try(world, task.ip, "/health"), 10, "the echo server")
    logs = world.client("logs")

    def messages(group: str, stream: str) -> list[str]:
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in events]

    stream = f"echo/echo/{task.task_id}"
    found = wait_for(lambda: (m := messages("/ecs/test/echo", stream)) and "request GET /health" in m and m,
                     10, "the request line in CloudWatch Logs")
    assert f"echo server listening on {task.ip}:{world.port}" in found
    migrate = messages("/ecs/test/schema", f"schema/schema/{runner.run_before[0].task_id}")
    assert migrate == ["migrate: applying 3 migrations", "migrate: done"]


def test_missing_secret_fails_the_task_to_start_and_backs_off(world: EcsWorld):
    world.service("echo", world.register("echo", secrets=[{"name": "X", "valueFrom": "/mailstack/test/missing"}]))
    runner = world.runner().start()
    failed = wait_for(lambda: [t for t in runner.service_tasks("echo", active_only=False)
                               if t.stop_code == "TaskFailedToStart"], 5, "a failed task")
    assert failed[0].stopped_reason.startswith("ResourceInitializationError: unable to retrieve secret X")
    assert failed[0].last_status is TaskStatus.STOPPED
    assert "task failed to start" in runner.log_path(failed[0].task_id).read_text()
    assert runner.backoff.failures(failed[0].service_arn) >= 1


def test_new_task_definition_revision_replaces_the_tasks(world: EcsWorld):
    first_def = world.register("echo")
    world.service("echo", first_def, desired=1)
    runner = world.runner().start()
    [old] = _running(runner, "echo", 1)
    second_def = world.register("echo", env={"RELEASE": "2"})
    world.client("ecs").update_service(cluster=world.cluster_arn, service="echo", taskDefinition=second_def)
    [new] = wait_for(lambda: [t for t in runner.service_tasks("echo") if t.task_definition_arn == second_def
                              and t.running and old.last_status is TaskStatus.STOPPED], 10, "the new revision")
    assert new.task_definition_arn.endswith(":2")
    assert wait_for(lambda: _try(world, new.ip, "/env"), 10, "new task").json()["RELEASE"] == "2"


def test_unhealthy_container_is_replaced(world: EcsWorld):
    check = {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 0}
    world.service("echo", world.register("echo", health_check=check), desired=1)
    runner = world.runner().start()
    [first] = _running(runner, "echo", 1)
    wait_for(lambda: first.last_status is TaskStatus.STOPPED, 10, "the unhealthy task to stop")
    assert first.stopped_reason.startswith("Task failed container health checks")
    assert first.containers[0].health_status == "UNHEALTHY"


def test_task_the_load_balancer_reports_unhealthy_is_replaced_after_the_grace_period(world: EcsWorld):
    world.service("echo", world.register("echo"), desired=1)
    # UpdateService keeps the grace period on stock moto (CreateService drops it without ecs-service-fields)
    world.client("ecs").update_service(cluster=world.cluster_arn, service="echo", healthCheckGracePeriodSeconds=40)
    unhealthy: set[str] = set()
    asked: list[tuple[str, str, int]] = []

    def target_state(target_group_arn: str, ip: str, port: int) -> str:
        asked.append((target_group_arn, ip, port))
        return "unhealthy" if ip in unhealthy else "healthy"

    runner = world.runner(target_health=target_state).start()
    [first] = _running(runner, "echo", 1)
    unhealthy.add(first.ip)
    time.sleep(1.0)  # the 40 s grace period is 2 s at this time scale
    assert first.running, "stopped during the health check grace period"
    assert asked == [], "the load balancer was consulted during the grace period"
    wait_for(lambda: first.last_status is TaskStatus.STOPPED, 10, "the unhealthy task to stop")
    assert (world.target_group_arn, first.ip, world.port) in asked
    assert first.stopped_reason == f"Task failed ELB health checks in (target-group {world.target_group_arn})"
    assert first.stop_code == "ServiceSchedulerInitiated"
    [replacement] = _running(runner, "echo", 1)
    assert replacement.task_id != first.task_id


def test_unmapped_image_fails_fast(world: EcsWorld):
    world.service("echo", world.register("echo"), desired=1)
    runner = world.runner(image_map={})
    with pytest.raises(HarnessError, match="no Dockerfile for image"):
        runner.start()
    assert runner.tasks() == []


def test_shell_form_entrypoint_runs_through_the_shell(world: EcsWorld):
    image = f"{ECR}/echo-shell:1"
    world.service("echo", world.register("echo", image=image), desired=1)
    runner = world.runner(image_map={"echo-shell": ImageSource(ECHO_DIR / "Dockerfile.shell")}).start()
    [task] = _running(runner, "echo", 1)
    assert task.containers[0].argv == ["/bin/sh", "-c", "exec python echo_server.py serve"]
    assert wait_for(lambda: _try(world, task.ip, "/health"), 10, "the echo server").text == "ok"
