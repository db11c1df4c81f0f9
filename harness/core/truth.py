"""The data plane's truth, handed from the processes that run it to the process that serves moto.

The ALB data plane and the ECS runner run in another process than the emulator. Each publishes what
it knows as one JSON file, and fidelity patches in the moto process read it back to answer
``DescribeTargetHealth``, ``DescribeServices``, ``ListTasks`` and ``DescribeTasks`` truthfully:

* ``HARNESS_ALB_SNAPSHOT``: path of ``AlbDataPlane.snapshot()`` (target group ARN ->
  ``[{id, port, state, reason, description}]``), read by patch ``elbv2-target-health-truth``;
* ``HARNESS_ECS_SNAPSHOT``: path of ``EcsRunner.snapshot()`` (``{"services": {service ARN: {...,
  "tasks": [...]}}, "standalone": [...], "generatedAt": ...}``), read by patch ``ecs-tasks-truth``.

Writer side: ``write_snapshot(path, data)`` replaces the file atomically, so a reader never sees half
a file. Reader side: ``SnapshotReader(env_var).read()`` looks the path up in the environment on every
call and re-parses the file only when it changed; no variable, no file, or an unreadable file means
"no data-plane truth yet" (None), and the patches then keep moto's own answers.

Imports nothing from moto or boto: both sides import it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["ALB_SNAPSHOT_ENV", "ECS_SNAPSHOT_ENV", "SnapshotReader", "write_snapshot"]

ALB_SNAPSHOT_ENV = "HARNESS_ALB_SNAPSHOT"
ECS_SNAPSHOT_ENV = "HARNESS_ECS_SNAPSHOT"

log = logging.getLogger(__name__)


def write_snapshot(path: Path | str, data: Any) -> None:
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


# (path, st_ino, st_mtime_ns, st_size). write_snapshot gives every version a new inode (the temporary
# file is created while the old one still exists) and a nanosecond mtime, so no change goes unseen.
_Version = tuple[str, int, int, int]


class SnapshotReader:
    """The JSON object in the file named by environment variable `env_var`, cached by file version.

    ``read()`` returns the parsed object, or None when the variable is unset or empty, the file does
    not exist, or it does not hold a JSON object (logged once per file version). Thread-safe.
    """

    def __init__(self, env_var: str) -> None:
        self.env_var = env_var
        self._lock = threading.Lock()
        self._version: _Version | None = None
        self._data: dict[str, Any] | None = None

    def path(self) -> Path | None:
        value = os.environ.get(self.env_var, "").strip()
        return Path(value) if value else None

    def read(self) -> dict[str, Any] | None:
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

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning(
                "%s=%s: cannot read the data-plane snapshot (%s); using moto's answers", self.env_var, path, exc
            )
            return None
        if not isinstance(data, dict):
            log.warning(
                "%s=%s: expected a JSON object, got %s; using moto's answers", self.env_var, path, type(data).__name__
            )
            return None
        return data
