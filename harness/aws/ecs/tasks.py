"""What the runner knows about each task it started, shaped like ECS `describe-tasks`.

`Task.to_json()` uses the ECS API's field names and value formats (timestamps as epoch seconds,
the awsvpc ENI as an attachment with `privateIPv4Address`) so that an emulator patch can serve it
from `describe-tasks`/`list-tasks` unchanged.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class TaskStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"  # deregistering from target groups, draining
    STOPPING = "STOPPING"  # stop signal sent
    STOPPED = "STOPPED"


ACTIVE_STATUSES = (TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.RUNNING)


class StopCode(StrEnum):
    TASK_FAILED_TO_START = "TaskFailedToStart"
    ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
    USER_INITIATED = "UserInitiated"
    SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"


def new_task_id() -> str:
    return uuid.uuid4().hex


def task_arn(cluster_arn: str, task_id: str) -> str:
    """`arn:aws:ecs:<region>:<account>:task/<cluster name>/<32 hex>` from the cluster's ARN."""
    prefix, _, resource = cluster_arn.partition(":cluster/")
    return f"{prefix}:task/{resource}/{task_id}"


@dataclass
class ContainerState:
    name: str
    image: str
    essential: bool
    log_path: Path
    argv: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    pid: int | None = None
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str = ""
    health_status: str = "UNKNOWN"

    def to_json(self, task: Task) -> dict[str, Any]:
        data: dict[str, Any] = {
            "containerArn": f"{task.arn.replace(':task/', ':container/', 1)}/{self.name}",
            "taskArn": task.arn,
            "name": self.name,
            "image": self.image,
            "lastStatus": self.last_status,
            "healthStatus": self.health_status,
            "networkBindings": [],
            "networkInterfaces": (
                [{"attachmentId": task.attachment_id, "privateIpv4Address": task.ip}] if task.ip else []
            ),
        }
        if self.exit_code is not None:
            data["exitCode"] = self.exit_code
        if self.reason:
            data["reason"] = self.reason
        if self.pid is not None:
            data["runtimeId"] = f"pid-{self.pid}"
        return data


@dataclass
class Task:
    """One task: its identity, where it runs, and where it is in the ECS task lifecycle."""

    task_id: str
    arn: str
    cluster_arn: str
    task_definition_arn: str
    family: str
    group: str  # "service:<name>" or "family:<family>", as ECS sets it
    service_arn: str | None = None
    ip: str = ""
    containers: list[ContainerState] = field(default_factory=list)
    last_status: TaskStatus = TaskStatus.PROVISIONING
    desired_status: str = "RUNNING"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str = ""
    stop_code: str = ""
    exit_code: int | None = None  # of the essential container whose exit stopped the task
    log_dir: Path | None = None
    attachment_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.last_status in ACTIVE_STATUSES

    @property
    def running(self) -> bool:
        return self.last_status is TaskStatus.RUNNING

    def set_status(self, status: TaskStatus) -> None:
        with self._lock:
            self.last_status = status
            now = time.time()
            if status is TaskStatus.RUNNING and self.started_at is None:
                self.started_at = now
            elif status in (TaskStatus.DEACTIVATING, TaskStatus.STOPPING) and self.stopping_at is None:
                self.stopping_at = now
                self.desired_status = "STOPPED"
            elif status is TaskStatus.STOPPED:
                self.stopped_at = now
                self.desired_status = "STOPPED"
                self.stopping_at = self.stopping_at or now

    def mark_stopping(self, reason: str, code: StopCode) -> bool:
        """Record why the task stops; False when it already was stopping (the first reason stays)."""
        with self._lock:
            if self.desired_status == "STOPPED":
                return False
            self.desired_status = "STOPPED"
            self.stopped_reason = reason
            self.stop_code = code.value
            return True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "group": self.group,
            "launchType": "FARGATE",
            "lastStatus": self.last_status.value,
            "desiredStatus": self.desired_status,
            "createdAt": self.created_at,
            "containers": [c.to_json(self) for c in self.containers],
            "attachments": [
                {
                    "id": self.attachment_id,
                    "type": "ElasticNetworkInterface",
                    "status": "ATTACHED" if self.last_status is not TaskStatus.STOPPED else "DELETED",
                    "details": [{"name": "privateIPv4Address", "value": self.ip}],
                }
            ]
            if self.ip
            else [],
        }
        if self.service_arn:
            data["startedBy"] = "ecs-svc/harness"
        for key, value in (("startedAt", self.started_at), ("stoppingAt", self.stopping_at),
                           ("stoppedAt", self.stopped_at)):
            if value is not None:
                data[key] = value
        if self.stopped_reason:
            data["stoppedReason"] = self.stopped_reason
        if self.stop_code:
            data["stopCode"] = self.stop_code
        # Not ECS API fields: what the harness adds (an emulator patch drops this key).
        data["harness"] = {
            "taskId": self.task_id,
            "serviceArn": self.service_arn,
            "exitCode": self.exit_code,
            "logDir": str(self.log_dir) if self.log_dir is not None else None,
            "pids": {container.name: container.pid for container in self.containers},
        }
        return data
