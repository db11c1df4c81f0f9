"""The data plane's truth, handed from the process that runs it to the process that serves moto.

The ALB data plane, the ECS runner and the DNS map run in the runtime daemon, not in the emulator.
The daemon publishes what they know as one JSON file each (paths and environment variable names:
``harness.core.rundir``), and fidelity patches in the moto process read them back to answer
``DescribeTargetHealth``, ``DescribeServices``, ``ListTasks``, ``DescribeTasks`` and SNS deliveries
truthfully. Each file holds one of the typed formats below plus ``"format": TRUTH_FORMAT``:

* ``AlbTruth``: target group ARN -> ``TargetHealthRow``s (from ``AlbDataPlane.snapshot()``), read by
  patch ``elbv2-target-health-truth``;
* ``EcsTruth``: service ARN -> counts and describe-tasks shaped tasks, plus standalone tasks (from
  ``EcsRunner.snapshot()``), read by patch ``ecs-tasks-truth``;
* ``DnsTruth``: public hostname -> port -> local "host:port" (``harness.aws.route53.resolver``), read
  by patch ``sns-http-delivery``.

Writer side: ``write_truth(path, truth)`` replaces the file atomically (``write_json_atomically``), so
a reader never sees half a file. Reader side: ``TruthReader(env_var, AlbTruth).read()`` looks the path
up in the environment on every call and re-parses the file only when it changed; no variable, no
file, an unreadable file or one of another format means "no data-plane truth" (None, logged once per
file version), and the patches then keep moto's own answers.

Light module: the standard library at import time (pydantic on the first parse); both sides import it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from harness.core.jsonfile import FormatMismatch, check_format, parse, to_json, write_json_atomically

__all__ = [
    "TRUTH_FORMAT",
    "AlbTruth",
    "DnsTruth",
    "EcsServiceTruth",
    "EcsTruth",
    "TargetHealthRow",
    "TruthReader",
    "write_truth",
]

TRUTH_FORMAT = 1  # raise it when a truth file changes shape: readers then refuse older files by name

log = logging.getLogger(__name__)

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------
# The formats


@dataclass(frozen=True)
class TargetHealthRow:
    """One target as the ALB data plane's health checks see it (``TargetHealth.to_json()``)."""

    id: str
    port: int
    state: str
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class AlbTruth:
    """Target group ARN -> the health of each registered (or draining) target."""

    target_groups: dict[str, list[TargetHealthRow]] = field(default_factory=dict)

    @classmethod
    def of(cls, health: dict[str, Any]) -> AlbTruth:
        """From ``AlbDataPlane.snapshot()`` (ValueError naming a field that does not fit)."""
        return parse(cls, {"target_groups": health})

    def rows(self, target_group_arn: str) -> list[TargetHealthRow]:
        return self.target_groups.get(target_group_arn, [])


@dataclass(frozen=True)
class EcsServiceTruth:
    """A service as the ECS runner runs it; field names as in ECS's DescribeServices."""

    serviceName: str
    clusterArn: str
    taskDefinition: str
    desiredCount: int
    runningCount: int
    pendingCount: int
    tasks: list[dict[str, Any]] = field(default_factory=list)  # DescribeTasks shaped, plus the runner's "harness"


@dataclass(frozen=True)
class EcsTruth:
    """Service ARN -> the service as the ECS runner runs it; tasks started outside a service; when."""

    services: dict[str, EcsServiceTruth] = field(default_factory=dict)
    standalone: list[dict[str, Any]] = field(default_factory=list)
    generatedAt: float = 0.0

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> EcsTruth:
        """From ``EcsRunner.snapshot()`` (ValueError naming a field that does not fit)."""
        return parse(cls, snapshot)

    def service_named(self, name: str) -> EcsServiceTruth | None:
        return next((s for s in self.services.values() if s.serviceName == name), None)


@dataclass(frozen=True)
class DnsTruth:
    """Public hostname -> public port -> the local "host:port" of the ALB listener that serves it."""

    hosts: dict[str, dict[int, str]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# Writing


def write_truth(path: Path | str, truth: AlbTruth | EcsTruth | DnsTruth) -> None:
    write_json_atomically(path, to_json(truth, TRUTH_FORMAT))


# ------------------------------------------------------------------------------------------------
# Reading

# (path, st_ino, st_mtime_ns, st_size). write_json_atomically gives every version a new inode (the temporary
# file is created while the old one still exists) and a nanosecond mtime, so no change goes unseen.
_Version = tuple[str, int, int, int]


class TruthReader(Generic[T]):
    """The `kind` record in the file named by environment variable `env_var`, cached by file version.

    ``read()`` returns it, or None when the variable is unset or empty, the file does not exist, or it
    does not hold a `kind` of TRUTH_FORMAT (logged once per file version). Thread-safe.
    """

    def __init__(self, env_var: str, kind: type[T]) -> None:
        self.env_var = env_var
        self.kind = kind
        self._lock = threading.Lock()
        self._version: _Version | None = None
        self._data: T | None = None

    def path(self) -> Path | None:
        value = os.environ.get(self.env_var, "").strip()
        return Path(value) if value else None

    def read(self) -> T | None:
        path = self.path()
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        version = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if version != self._version:
                self._data = self._load(path)
                self._version = version
            return self._data

    def _load(self, path: Path) -> T | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            return parse(self.kind, check_format(data, TRUTH_FORMAT))
        except (OSError, ValueError) as exc:
            hint = "; restart the stack (`harness down`, `harness up`)" if isinstance(exc, FormatMismatch) else ""
            log.warning("%s=%s: no data-plane truth (%s)%s; using moto's answers", self.env_var, path, exc, hint)
            return None
