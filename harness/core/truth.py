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

import functools
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = [
    "TRUTH_FORMAT",
    "AlbTruth",
    "DnsTruth",
    "EcsServiceTruth",
    "EcsTruth",
    "FormatMismatch",
    "TargetHealthRow",
    "TruthReader",
    "check_format",
    "parse",
    "write_json_atomically",
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
    target_groups: dict[str, list[TargetHealthRow]] = field(default_factory=dict)

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
    services: dict[str, EcsServiceTruth] = field(default_factory=dict)
    standalone: list[dict[str, Any]] = field(default_factory=list)
    generatedAt: float = 0.0

    def service_named(self, name: str) -> EcsServiceTruth | None:
        return next((s for s in self.services.values() if s.serviceName == name), None)


@dataclass(frozen=True)
class DnsTruth:
    hosts: dict[str, dict[int, str]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# Format versions and parsing


class FormatMismatch(ValueError):
    """A run-directory file written in another format than this harness reads."""

    def __init__(self, found: object, expected: int) -> None:
        self.found = found
        self.expected = expected
        if isinstance(found, int) and not isinstance(found, bool) and found > expected:
            self.newer = True
            text = f"written in format {found} by a newer harness; this one reads format {expected}"
        else:
            self.newer = False
            shown = "none" if found is None else repr(found)
            text = f"written by an older harness (format {shown}); this one reads format {expected}"
        super().__init__(text)


def check_format(data: dict[str, Any], expected: int) -> dict[str, Any]:
    """`data` without its "format" key, or FormatMismatch when that is not `expected`."""
    found = data.get("format")
    if found != expected or isinstance(found, bool):
        raise FormatMismatch(found, expected)
    return {key: value for key, value in data.items() if key != "format"}


@functools.cache
def _adapter(kind: type[Any]) -> Any:
    import pydantic  # only where a file is parsed: the emulator imports this module early

    return pydantic.TypeAdapter(kind)


def parse(kind: type[T], data: object) -> T:
    """`data` validated as `kind` (a dataclass above); ValueError naming the first field that does not fit."""
    import pydantic

    try:
        return _adapter(kind).validate_python(data)  # type: ignore[no-any-return]
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"field {place}: {first['msg']}") from None


def to_json(record: object, version: int) -> dict[str, Any]:
    """The JSON object of a dataclass record, stamped with its format `version`."""
    return {"format": version, **asdict(record)}  # type: ignore[call-overload]


# ------------------------------------------------------------------------------------------------
# Writing


def write_json_atomically(path: Path | str, data: Any) -> None:
    """Write `data` as JSON to `path` atomically (temporary file in the same directory, then replace).

    Creates the parent directory. Safe to call from several threads or processes at once: the last
    replace wins and readers see either the old or the new file, never a mix.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        now = time.time_ns()  # a fine-grained mtime: the file system's clock may tick only every few ms
        os.utime(tmp, ns=(now, now))
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
