"""Read the ECS configuration back from the emulated AWS into `harness.aws.ecs.model`.

Nothing here knows a name: clusters, services and task definitions all come from the API. Task
definitions are immutable per revision, so `EcsLoader` caches them by ARN.

Which task definitions run once before the services (the database migration, typically) is the
caller's choice, in two ways that combine (explicit ones first, in the given order):

* `refs`: family names (latest ACTIVE revision), `family:revision` or task definition ARNs;
* `tag`: every family whose latest ACTIVE revision carries the tag, by default
  `harness:run-before-services = true` (value compared case-insensitively), sorted by family.
  Terraform declares it with `tags = { "harness:run-before-services" = "true" }`; AWS ignores it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from harness.aws.ecs.model import (
    Cluster,
    ContainerDefinition,
    EcsModel,
    EnvironmentFile,
    HealthCheck,
    LoadBalancerRef,
    LogConfiguration,
    NetworkConfiguration,
    PortMapping,
    Secret,
    Service,
    TaskDefinition,
)
from harness.core.errors import HarnessError

log = logging.getLogger(__name__)

RUN_BEFORE_TAG = ("harness:run-before-services", "true")


def _optional_argv(raw: Any) -> tuple[str, ...] | None:
    return None if raw is None else tuple(str(a) for a in raw)


def parse_container(raw: dict[str, Any]) -> ContainerDefinition:
    health = raw.get("healthCheck")
    logs = raw.get("logConfiguration")
    log_config = None
    if logs:
        options = {str(k): str(v) for k, v in (logs.get("options") or {}).items()}
        log_config = LogConfiguration(
            driver=str(logs.get("logDriver", "")),
            group=options.get("awslogs-group", ""),
            region=options.get("awslogs-region", ""),
            stream_prefix=options.get("awslogs-stream-prefix", ""),
            create_group=options.get("awslogs-create-group", "").lower() == "true",
            options=tuple(sorted(options.items())),
        )
    stop_timeout = raw.get("stopTimeout")
    return ContainerDefinition(
        name=str(raw["name"]),
        image=str(raw.get("image", "")),
        essential=bool(raw.get("essential", True)),
        command=_optional_argv(raw.get("command")),
        entry_point=_optional_argv(raw.get("entryPoint")),
        environment=tuple((str(e["name"]), str(e.get("value", ""))) for e in raw.get("environment") or []),
        environment_files=tuple(
            EnvironmentFile(value=str(f["value"]), type=str(f.get("type", "s3")))
            for f in raw.get("environmentFiles") or []
        ),
        secrets=tuple(Secret(str(s["name"]), str(s["valueFrom"])) for s in raw.get("secrets") or []),
        port_mappings=tuple(
            PortMapping(
                container_port=int(p["containerPort"]),
                host_port=int(p["hostPort"]) if p.get("hostPort") is not None else None,
                protocol=str(p.get("protocol", "tcp")),
                name=str(p.get("name", "")),
            )
            for p in raw.get("portMappings") or []
            if p.get("containerPort") is not None
        ),
        health_check=HealthCheck(
            command=tuple(str(c) for c in health.get("command", [])),
            interval=float(health.get("interval", 30)),
            timeout=float(health.get("timeout", 5)),
            retries=int(health.get("retries", 3)),
            start_period=float(health.get("startPeriod", 0)),
        )
        if health and health.get("command")
        else None,
        log_configuration=log_config,
        working_directory=raw.get("workingDirectory") or None,
        stop_timeout=float(stop_timeout) if stop_timeout is not None else None,
    )


def parse_task_definition(raw: dict[str, Any], tags: Iterable[dict[str, str]] = ()) -> TaskDefinition:
    return TaskDefinition(
        arn=str(raw["taskDefinitionArn"]),
        family=str(raw["family"]),
        revision=int(raw.get("revision", 0)),
        containers=tuple(parse_container(c) for c in raw.get("containerDefinitions", [])),
        network_mode=str(raw.get("networkMode", "awsvpc")),
        cpu=str(raw.get("cpu", "")),
        memory=str(raw.get("memory", "")),
        tags=tuple((str(t["key"]), str(t.get("value", ""))) for t in tags),
    )


def parse_service(raw: dict[str, Any]) -> Service:
    network = (raw.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    return Service(
        arn=str(raw["serviceArn"]),
        name=str(raw["serviceName"]),
        cluster_arn=str(raw["clusterArn"]),
        task_definition_arn=str(raw.get("taskDefinition", "")),
        desired_count=int(raw.get("desiredCount", 0)),
        status=str(raw.get("status", "ACTIVE")),
        launch_type=str(raw.get("launchType", "FARGATE")),
        health_check_grace_period=float(raw.get("healthCheckGracePeriodSeconds") or 0),
        load_balancers=tuple(
            LoadBalancerRef(
                target_group_arn=str(lb["targetGroupArn"]),
                container_name=str(lb.get("containerName", "")),
                container_port=int(lb.get("containerPort", 0)),
            )
            for lb in raw.get("loadBalancers") or []
            if lb.get("targetGroupArn")  # classic load balancers (loadBalancerName) are not emulated
        ),
        network_configuration=NetworkConfiguration(
            subnets=tuple(network.get("subnets") or ()),
            security_groups=tuple(network.get("securityGroups") or ()),
            assign_public_ip=network.get("assignPublicIp") == "ENABLED",
        )
        if network
        else None,
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EcsLoader:
    """Reads clusters, services and their task definitions with one ECS client."""

    def __init__(self, ecs: Any) -> None:
        self.ecs = ecs
        self._task_definitions: dict[str, TaskDefinition] = {}

    def _paginate(self, operation: str, key: str, **kwargs: Any) -> list[Any]:
        items: list[Any] = []
        for page in self.ecs.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items

    def task_definition(self, ref: str) -> TaskDefinition:
        """A task definition by ARN, `family:revision` or family (latest ACTIVE revision)."""
        cached = self._task_definitions.get(ref)
        if cached is not None:
            return cached
        try:
            answer = self.ecs.describe_task_definition(taskDefinition=ref, include=["TAGS"])
        except ClientError as exc:
            raise HarnessError(
                f"task definition {ref!r} is not in the emulated ECS ({exc.response['Error'].get('Message', exc)})",
                "check the name (family, family:revision or ARN) against `aws ecs list-task-definitions`",
            ) from exc
        task_def = parse_task_definition(answer["taskDefinition"], answer.get("tags") or [])
        self._task_definitions[task_def.arn] = task_def
        return task_def

    def clusters(self) -> list[Cluster]:
        arns = self._paginate("list_clusters", "clusterArns")
        clusters: list[Cluster] = []
        for chunk in _chunks(arns, 100):
            for raw in self.ecs.describe_clusters(clusters=list(chunk)).get("clusters", []):
                clusters.append(Cluster(arn=raw["clusterArn"], name=raw["clusterName"],
                                        status=raw.get("status", "ACTIVE")))
        return clusters

    def services(self, cluster_arn: str) -> list[Service]:
        arns = self._paginate("list_services", "serviceArns", cluster=cluster_arn)
        services: list[Service] = []
        for chunk in _chunks(arns, 10):  # describe_services takes at most 10
            answer = self.ecs.describe_services(cluster=cluster_arn, services=list(chunk))
            services.extend(parse_service(raw) for raw in answer.get("services", []))
        return services

    def load(self) -> EcsModel:
        """One consistent-enough read: every cluster, its services and their task definitions."""
        clusters = [c for c in self.clusters() if c.status == "ACTIVE"]
        services = [s for c in clusters for s in self.services(c.arn)]
        task_defs: dict[str, TaskDefinition] = {}
        for service in services:
            if service.task_definition_arn and service.task_definition_arn not in task_defs:
                task_defs[service.task_definition_arn] = self.task_definition(service.task_definition_arn)
        return EcsModel(clusters=tuple(clusters), services=tuple(services), task_definitions=task_defs)

    def tagged(self, key: str, value: str) -> list[TaskDefinition]:
        """The latest ACTIVE revision of every family that carries the tag `key` = `value`."""
        found: list[TaskDefinition] = []
        for family in sorted(self._paginate("list_task_definition_families", "families", status="ACTIVE")):
            try:
                task_def = self.task_definition(family)
            except HarnessError:  # a family without an ACTIVE revision
                continue
            tag_value = task_def.tag(key)
            if tag_value is not None and tag_value.lower() == value.lower():
                found.append(task_def)
        return found

    def run_before_services(
        self, refs: Sequence[str] = (), tag: tuple[str, str] | None = RUN_BEFORE_TAG
    ) -> list[TaskDefinition]:
        """The task definitions to run once before the services: `refs` first, then tagged ones."""
        chosen = [self.task_definition(ref) for ref in refs]
        if tag is not None:
            chosen.extend(self.tagged(*tag))
        unique: dict[str, TaskDefinition] = {}
        for task_def in chosen:
            unique.setdefault(task_def.arn, task_def)
        return list(unique.values())
