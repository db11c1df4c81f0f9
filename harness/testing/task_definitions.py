"""A new revision of an ECS task definition with some container environment changed, the rest as it was.

    described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    request = with_environment(described, {"WORKER_SES_NOTIFICATION_GRACE_SECONDS": "2"})
    revision = ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]

Only what `RegisterTaskDefinition` accepts is carried over (not the ARN, revision, status, registration
times, ... that `DescribeTaskDefinition` adds), so the revision is the same task but for the variables named.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: The fields of a task definition that `RegisterTaskDefinition` takes back.
REGISTERED_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
    "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
)


def with_environment(described: Mapping[str, Any], changes: Mapping[str, str],
                     container: str | None = None) -> dict[str, Any]:
    """`RegisterTaskDefinition` arguments: the described task definition (a `DescribeTaskDefinition` answer)
    with `changes` set in the environment of `container` (default: its only container), other variables kept
    in their order, new ones appended."""
    task_def = described["taskDefinition"]
    request = {key: copy.deepcopy(task_def[key]) for key in REGISTERED_FIELDS if task_def.get(key) not in (None, [])}
    if described.get("tags"):
        request["tags"] = copy.deepcopy(described["tags"])
    containers = request["containerDefinitions"]
    names = [c["name"] for c in containers]
    if container is None:
        if len(containers) != 1:
            raise ValueError(f"{task_def['family']} has containers {names}: name the one to change")
        container = names[0]
    if container not in names:
        raise ValueError(f"{task_def['family']} has no container {container!r} (containers: {names})")
    definition = containers[names.index(container)]
    environment = [dict(variable) for variable in definition.get("environment", [])]
    for name, value in changes.items():
        found = [variable for variable in environment if variable["name"] == name]
        if found:
            found[0]["value"] = str(value)
        else:
            environment.append({"name": name, "value": str(value)})
    definition["environment"] = environment
    return request


def environment_of(task_def: Mapping[str, Any], container: str | None = None) -> dict[str, str]:
    """The environment of `container` (default: the only one) of a described task definition."""
    containers = task_def["containerDefinitions"]
    chosen = containers[0] if container is None and len(containers) == 1 else next(
        (c for c in containers if c["name"] == container), None)
    if chosen is None:
        raise ValueError(f"{task_def['family']}: no container {container!r}")
    return {variable["name"]: variable["value"] for variable in chosen.get("environment", [])}
