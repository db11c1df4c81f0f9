"""The call log: one JSON line per call through the gateway, and the most recent calls in memory."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class CallRecord:
    seq: int
    time: float  # epoch seconds when the request arrived
    service: str
    operation: str
    method: str
    path: str
    status: int | None  # None: no answer (a blackout, or the backend failed)
    latency_ms: float
    access_key: str | None
    caller: str | None
    source: str | None
    backend: str | None
    fault: str | None
    error: str | None = None  # the gateway's own failure to reach the backend


class CallLog:
    def __init__(self, path: Path | None, keep: int = 10_000) -> None:
        self.path = path
        self.recent: deque[CallRecord] = deque(maxlen=keep)
        self.seq = 0
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)  # line-buffered: readable while running

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add(self, record: CallRecord) -> None:
        self.recent.append(record)
        if self._file is not None:
            self._file.write(json.dumps(asdict(record), separators=(",", ":")) + "\n")

    def query(self, since: int = 0, service: str | None = None, operation: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        found = [asdict(r) for r in self.recent if r.seq > since and (service is None or r.service == service)
                 and (operation is None or r.operation == operation)]
        return found[-limit:] if limit else found

    def clear(self) -> None:
        self.recent.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
