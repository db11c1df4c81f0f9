"""Ship each container's log file to CloudWatch Logs, as the `awslogs` log driver does.

The log file stays the source (it is what `harness logs` and failure messages show); a background
thread tails every registered file and sends complete lines to the group and stream of the
container's `logConfiguration` with `put_log_events`, batched (at most 10,000 events / ~1 MB per
call, events over 256 KB truncated), creating the group and stream when missing. The stream is
named like ECS names it: `<awslogs-stream-prefix>/<container name>/<task id>`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harness.core.clients import AwsClients

log = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD
MAX_ATTEMPTS = 5


def stream_name(prefix: str, container: str, task_id: str) -> str:
    return f"{prefix}/{container}/{task_id}" if prefix else f"{container}/{task_id}"


def batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split events into put_log_events-sized batches, order kept."""
    result: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + EVENT_OVERHEAD
        if current and (len(current) >= MAX_BATCH_EVENTS or size + event_size > MAX_BATCH_BYTES):
            result.append(current)
            current, size = [], 0
        current.append(event)
        size += event_size
    if current:
        result.append(current)
    return result


def _truncate(line: str) -> str:
    data = line.encode()
    return line if len(data) <= MAX_EVENT_BYTES else data[:MAX_EVENT_BYTES].decode(errors="ignore")


@dataclass
class _Source:
    path: Path
    group: str
    stream: str
    region: str
    offset: int = 0
    partial: bytes = b""
    pending: list[dict[str, Any]] = field(default_factory=list)
    ready: bool = False  # group and stream exist
    closing: bool = False
    failures: int = 0


class LogShipper:
    """Tails log files into CloudWatch Logs; `start()`/`stop()`, `add()` a file, `close()` it when done."""

    def __init__(self, clients: AwsClients, flush_interval: float = 0.5) -> None:
        self.clients = clients
        self.flush_interval = flush_interval
        self._sources: dict[Path, _Source] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ registration
    def add(self, path: Path, group: str, stream: str, region: str = "") -> None:
        with self._lock:
            self._sources[path] = _Source(path=path, group=group, stream=stream, region=region or self.clients.region)

    def close(self, path: Path) -> None:
        """The writer is gone: ship what is left (including a last line without newline) and forget it."""
        with self._lock:
            source = self._sources.get(path)
            if source is not None:
                source.closing = True
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LogShipper:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="ecs-log-shipper", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ship everything still in the files, then stop the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with contextlib.suppress(Exception):
            self.flush(final=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never let shipping kill the thread; the next round retries
                log.exception("shipping container logs to CloudWatch Logs failed")

    # ------------------------------------------------------------------ work
    def _client(self, region: str) -> Any:
        return self.clients.for_region(region).client("logs")

    def _read(self, source: _Source, final: bool) -> None:
        try:
            with source.path.open("rb") as handle:
                handle.seek(source.offset)
                data = handle.read()
        except FileNotFoundError:
            return
        source.offset += len(data)
        data = source.partial + data
        lines = data.split(b"\n")
        source.partial = lines.pop()
        if final and source.partial:
            lines.append(source.partial)
            source.partial = b""
        now = int(time.time() * 1000)
        for raw in lines:
            text = raw.decode(errors="replace").rstrip("\r")
            if text:
                source.pending.append({"timestamp": now, "message": _truncate(text)})

    def _ensure(self, client: Any, source: _Source) -> None:
        if source.ready:
            return
        with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_group(logGroupName=source.group)
        with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_stream(logGroupName=source.group, logStreamName=source.stream)
        source.ready = True

    def _send(self, source: _Source) -> None:
        if not source.pending:
            return
        client = self._client(source.region)
        try:
            self._ensure(client, source)
            for batch in batches(source.pending):
                client.put_log_events(logGroupName=source.group, logStreamName=source.stream, logEvents=batch)
                source.pending = source.pending[len(batch) :]
            source.failures = 0
        except (ClientError, BotoCoreError) as exc:
            source.failures += 1
            source.ready = False
            if source.failures >= MAX_ATTEMPTS:
                log.warning("dropping %d log events of %s after %d failures: %s",
                            len(source.pending), source.path, source.failures, exc)
                source.pending.clear()
                source.failures = 0

    def flush(self, final: bool = False) -> None:
        """Read every file and send what is new; `final` also ships trailing partial lines."""
        with self._lock:
            for path, source in list(self._sources.items()):
                last = final or source.closing
                self._read(source, last)
                self._send(source)
                if source.closing and not source.pending:
                    del self._sources[path]
