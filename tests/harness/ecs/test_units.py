"""Small pieces of the runner: addresses, backoff, health state, log batching, task identity."""

from __future__ import annotations

import socket

import pytest

from harness.aws.ecs.addresses import LoopbackAllocator
from harness.aws.ecs.backoff import RestartBackoff
from harness.aws.ecs.drivers import docker_exit_code, select_driver
from harness.aws.ecs.health import MIN_TIMEOUT_SECONDS, ContainerHealth
from harness.aws.ecs.logship import MAX_BATCH_EVENTS, batches, stream_name
from harness.aws.ecs.model import HealthCheck
from harness.aws.ecs.tasks import Task, TaskStatus, task_arn
from harness.core.clock import Clock
from harness.core.errors import HarnessError


def test_task_arn_is_shaped_like_ecs():
    arn = task_arn("arn:aws:ecs:us-east-1:123456789012:cluster/mailstack-dev", "a" * 32)
    assert arn == f"arn:aws:ecs:us-east-1:123456789012:task/mailstack-dev/{'a' * 32}"


def test_task_json_has_describe_tasks_fields():
    task = Task(task_id="f" * 32, arn="arn:t", cluster_arn="arn:c", task_definition_arn="arn:td", family="api",
                group="service:api", service_arn="arn:s", ip="127.0.0.9")
    task.set_status(TaskStatus.RUNNING)
    data = task.to_json()
    assert data["lastStatus"] == "RUNNING" and data["desiredStatus"] == "RUNNING"
    assert data["attachments"][0]["details"] == [{"name": "privateIPv4Address", "value": "127.0.0.9"}]
    assert isinstance(data["startedAt"], float)


def test_loopback_allocator_round_robin_and_skips_taken_ports():
    allocator = LoopbackAllocator("127.0.0.2", "127.0.0.5")
    with socket.socket() as busy:
        busy.bind(("127.0.0.3", 0))
        busy.listen()
        port = busy.getsockname()[1]
        first = allocator.allocate([port])
        second = allocator.allocate([port])
    assert (first, second) == ("127.0.0.2", "127.0.0.4")
    allocator.release(first)
    assert allocator.allocate() == "127.0.0.5"  # round robin: not the one just released
    assert allocator.allocate() == "127.0.0.2"
    assert allocator.allocate() == "127.0.0.3"
    with pytest.raises(HarnessError, match="no free loopback address"):
        allocator.allocate()


def test_backoff_doubles_caps_and_resets():
    backoff = RestartBackoff(base=10, cap=40, stable_after=60, clock=Clock(10))
    assert [backoff.failed("s", now=0) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert not backoff.ready("s", now=3.9) and backoff.ready("s", now=4.0)
    backoff.ran_for("s", 5.9)
    assert backoff.failures("s") == 4
    backoff.ran_for("s", 6.0)
    assert backoff.failures("s") == 0


def test_health_retries_and_start_period():
    health = ContainerHealth(HealthCheck(("CMD", "true"), interval=10, retries=2, start_period=20), started=0,
                             clock=Clock(10))
    assert health.due(0)
    # the timeout is scaled like interval and start period (and the ALB's), never below the time a check
    # process takes to start: 30 s at scale 10 is 3 s, the default 5 s would be 0.5 s and is 2 s
    assert ContainerHealth(HealthCheck(("CMD", "true"), timeout=30), started=0, clock=Clock(10)).timeout == 3.0
    assert health.timeout == MIN_TIMEOUT_SECONDS == 2.0
    assert health.record(1, now=1.0) == "UNKNOWN"  # inside the 2 s start period: not counted
    assert health.record(0, now=2.5) == "HEALTHY"
    assert health.record(1, now=3.5) == "HEALTHY"
    assert health.record(1, now=4.5) == "UNHEALTHY"
    assert not health.due(5.0) and health.due(5.5)


def test_log_batches_respect_count_and_size():
    events = [{"timestamp": 1, "message": "x"} for _ in range(MAX_BATCH_EVENTS + 5)]
    assert [len(b) for b in batches(events)] == [MAX_BATCH_EVENTS, 5]
    big = [{"timestamp": 1, "message": "y" * 200_000} for _ in range(7)]
    assert [len(b) for b in batches(big)] == [5, 2]
    assert stream_name("api", "api", "abc") == "api/api/abc"
    assert stream_name("", "api", "abc") == "api/abc"


def test_exit_codes_like_docker():
    assert docker_exit_code(-9) == 137
    assert docker_exit_code(-15) == 143
    assert docker_exit_code(3) == 3
    assert docker_exit_code(None) is None


def test_container_driver_is_not_available_yet(tmp_path):
    with pytest.raises(HarnessError, match="container driver is not available yet"):
        select_driver("container", tmp_path)
    with pytest.raises(HarnessError, match="unknown ECS driver"):
        select_driver("vm", tmp_path)


def test_a_program_on_all_addresses_is_named_as_the_cause():
    with socket.socket() as wildcard:
        wildcard.bind(("0.0.0.0", 0))
        wildcard.listen()
        port = wildcard.getsockname()[1]
        with pytest.raises(HarnessError, match=rf"listens on 0\.0\.0\.0:{port}.*BIND_HOST"):
            LoopbackAllocator("127.0.0.2", "127.0.0.9").allocate([port])
