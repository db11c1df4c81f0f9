"""A task definition revision with some environment changed is the same task but for those variables."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from harness.testing.task_definitions import environment_of, with_environment

WORKER = {
    "family": "mailstack-dev-worker",
    "taskRoleArn": "arn:aws:iam::123456789012:role/worker",
    "executionRoleArn": "arn:aws:iam::123456789012:role/execution",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "containerDefinitions": [{
        "name": "worker", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1", "essential": True,
        "command": ["worker"],
        "environment": [{"name": "MAILSTACK_ENV", "value": "dev"}, {"name": "WORKER_BATCH_SIZE", "value": "10"}],
        "secrets": [{"name": "DB_HOST", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db/host"}],
    }],
}


def described(**extra: Any) -> dict[str, Any]:
    return {"taskDefinition": {**WORKER, "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/"
                               "mailstack-dev-worker:1", "revision": 1, "status": "ACTIVE",
                               "requiresAttributes": [{"name": "ecs.capability.secrets.ssm.environment-variables"}],
                               "compatibilities": ["EC2", "FARGATE"], "registeredAt": "2024-06-14T09:00:00Z",
                               "volumes": [], **extra},
            "tags": [{"key": "Service", "value": "worker"}]}


def test_changed_variables_take_their_new_value_in_place_and_new_ones_come_last() -> None:
    request = with_environment(described(), {"WORKER_BATCH_SIZE": "1", "WORKER_SES_NOTIFICATION_GRACE_SECONDS": "2"})
    assert request["containerDefinitions"][0]["environment"] == [
        {"name": "MAILSTACK_ENV", "value": "dev"},
        {"name": "WORKER_BATCH_SIZE", "value": "1"},
        {"name": "WORKER_SES_NOTIFICATION_GRACE_SECONDS", "value": "2"},
    ]
    unchanged = {k: v for k, v in request.items() if k != "containerDefinitions"}
    assert unchanged == {**{k: v for k, v in WORKER.items() if k != "containerDefinitions"},
                         "tags": [{"key": "Service", "value": "worker"}]}
    container = dict(request["containerDefinitions"][0], environment=WORKER["containerDefinitions"][0]["environment"])
    assert container == WORKER["containerDefinitions"][0]
    # what DescribeTaskDefinition adds is not sent back, and the description itself is left as it was
    assert not {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                "registeredAt", "volumes"} & set(request)
    assert environment_of(described()["taskDefinition"]) == {"MAILSTACK_ENV": "dev", "WORKER_BATCH_SIZE": "10"}


def test_a_task_with_several_containers_needs_the_container_named() -> None:
    sidecar = {"name": "sidecar", "image": "busybox", "essential": False}
    several = described(containerDefinitions=[*WORKER["containerDefinitions"], sidecar])
    with pytest.raises(ValueError, match="name the one to change"):
        with_environment(several, {"A": "1"})
    with pytest.raises(ValueError, match="no container 'api'"):
        with_environment(several, {"A": "1"}, container="api")
    request = with_environment(several, {"A": "1"}, container="sidecar")
    assert request["containerDefinitions"][1]["environment"] == [{"name": "A", "value": "1"}]
    assert request["containerDefinitions"][0] == WORKER["containerDefinitions"][0]


def test_the_request_registers_a_revision_that_differs_only_in_the_environment() -> None:
    with mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        first = ecs.register_task_definition(**WORKER, tags=[{"key": "Service", "value": "worker"}])
        arn = first["taskDefinition"]["taskDefinitionArn"]
        before = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        request = with_environment(before, {"WORKER_SES_NOTIFICATION_GRACE_SECONDS": "2"})
        second = ecs.register_task_definition(**request)["taskDefinition"]
        after = ecs.describe_task_definition(taskDefinition=second["taskDefinitionArn"], include=["TAGS"])

    assert second["revision"] == before["taskDefinition"]["revision"] + 1
    assert environment_of(after["taskDefinition"]) == {
        **environment_of(before["taskDefinition"]), "WORKER_SES_NOTIFICATION_GRACE_SECONDS": "2"}
    ignored = {"taskDefinitionArn", "revision", "registeredAt", "containerDefinitions"}
    assert {k: v for k, v in after["taskDefinition"].items() if k not in ignored} == {
        k: v for k, v in before["taskDefinition"].items() if k not in ignored}
    [old], [new] = before["taskDefinition"]["containerDefinitions"], after["taskDefinition"]["containerDefinitions"]
    assert {k: v for k, v in new.items() if k != "environment"} == {k: v for k, v in old.items() if k != "environment"}
    assert after["tags"] == before["tags"]
