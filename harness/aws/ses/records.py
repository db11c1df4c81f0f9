"""Append-only JSONL records (traces, rejections, outbox), mirrored in memory for the Python API."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class JsonlLog:
    """Thread-safe: every `append` writes one JSON line to `path` and keeps a copy in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=False, default=str)
        with self._lock:
            self._items.append(record)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
