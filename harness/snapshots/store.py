"""A content-addressed store of snapshots on disk, shaped for a CI cache step.

Each entry is a directory ``<root>/<key>/`` holding its files and a ``manifest.json`` (format, kind, when it
was made, each file's size and SHA-256, and what the maker wants to keep beside it). An entry is written in a
``.tmp-*`` directory and renamed into place, manifest included, so a reader sees a whole entry or none; the
first of two makers of one key wins and the second drops its copy. ``checkout`` copies the files out and
checks every digest: a file that does not match (a cache restored half, a disk that lost a block) removes
the entry and raises ``SnapshotUnusable``, so nobody restores from it again. ``<root>/.lock`` serialises
renames, checkouts and pruning between processes; nothing holds it for longer than a copy.

The least recently used entries go first when ``prune`` brings the store under its size cap: ``used`` in an
entry is touched at every checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.core.errors import HarnessError

FORMAT = 1
MANIFEST = "manifest.json"
USED = "used"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
DEFAULT_MAX_BYTES = 4 * 1024**3
_CHUNK = 1 << 20


def default_root() -> Path:
    """``$XDG_CACHE_HOME/mailstack-harness/snapshots`` (``~/.cache/...`` when unset), as the XDG spec says."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mailstack-harness" / "snapshots"


class SnapshotUnusable(HarnessError):
    """A snapshot that cannot be restored (corrupt, partial, another format): it was removed from the store."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"snapshot {key[:12]} is unusable: {problem}", "it was removed from the store")


@dataclass(frozen=True)
class Snapshot:
    key: str
    kind: str
    path: Path
    created_at: float
    last_used: float
    size: int
    files: dict[str, dict[str, Any]]
    meta: dict[str, Any]

    def file(self, name: str) -> Path:
        return self.path / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def _valid_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..", MANIFEST, USED) and not name.startswith(".")


class SnapshotStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / LOCK)):
            yield

    # -- reading -------------------------------------------------------------------------------------
    def _read(self, entry: Path) -> Snapshot | None:
        """The entry's manifest, or None when it is not a whole entry of this format."""
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            if manifest.get("format") != FORMAT:
                return None
            files = {str(name): dict(info) for name, info in manifest["files"].items()}
            used = entry / USED
            return Snapshot(
                key=entry.name,
                kind=str(manifest["kind"]),
                path=entry,
                created_at=float(manifest["created_at"]),
                last_used=used.stat().st_mtime if used.exists() else float(manifest["created_at"]),
                size=sum(int(info["size"]) for info in files.values()),
                files=files,
                meta=dict(manifest.get("meta") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def get(self, key: str) -> Snapshot | None:
        return self._read(self.root / key) if _valid_name(key) else None

    def entries(self, kind: str | None = None) -> list[Snapshot]:
        """Whole entries, most recently used first."""
        if not self.root.is_dir():
            return []
        found = [snap for entry in self.root.iterdir() if entry.is_dir() and not entry.name.startswith(".")
                 if (snap := self._read(entry)) is not None and (kind is None or snap.kind == kind)]
        return sorted(found, key=lambda snap: snap.last_used, reverse=True)

    # -- writing -------------------------------------------------------------------------------------
    def save(self, key: str, kind: str, files: Mapping[str, Path], meta: Mapping[str, Any]) -> Snapshot:
        """Store `files` (name → path) under `key`; an entry already there for `key` is kept as it is."""
        if not _valid_name(key):
            raise HarnessError(f"invalid snapshot key {key!r}", "keys are file names without '/' or a leading dot")
        existing = self.get(key)
        if existing is not None:
            return existing
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            recorded: dict[str, dict[str, Any]] = {}
            for name, source in files.items():
                if not _valid_name(name):
                    raise HarnessError(f"invalid snapshot file name {name!r}", "use a plain file name")
                digest = _copy_hashing(source, tmp / name)
                recorded[name] = {"size": (tmp / name).stat().st_size, "sha256": digest}
            manifest = {"format": FORMAT, "kind": kind, "created_at": time.time(), "files": recorded,
                        "meta": dict(meta)}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            with self.locked():
                target = self.root / key
                if self._read(target) is None:
                    shutil.rmtree(target, ignore_errors=True)  # a torn entry (no manifest) is replaced
                    tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        saved = self.get(key)
        assert saved is not None
        return saved

    def checkout(self, key: str, dest: Path, names: list[str] | None = None) -> Snapshot:
        """Copy the entry's files (or `names`) into `dest`, checking each digest; touches the entry's use time."""
        with self.locked():
            snap = self.get(key)
            if snap is None:
                if (self.root / key).exists():
                    self._remove(key)
                    raise SnapshotUnusable(key, "its manifest is missing or unreadable")
                raise HarnessError(f"no snapshot {key[:12]} in {self.root}", "`harness snapshot list` shows them")
            dest.mkdir(parents=True, exist_ok=True)
            for name in names if names is not None else list(snap.files):
                info = snap.files.get(name)
                source = snap.file(name)
                if info is None or not source.is_file():
                    self._remove(key)
                    raise SnapshotUnusable(key, f"{name} is missing")
                if _copy_hashing(source, dest / name) != info["sha256"]:
                    (dest / name).unlink(missing_ok=True)
                    self._remove(key)
                    raise SnapshotUnusable(key, f"{name} does not match its recorded SHA-256")
            (snap.path / USED).touch()
        return snap

    def verify(self, key: str) -> str | None:
        """What is wrong with the entry, or None when every file matches its digest."""
        snap = self.get(key)
        if snap is None:
            return "missing or without a readable manifest"
        for name, info in snap.files.items():
            if not snap.file(name).is_file():
                return f"{name} is missing"
            if _sha256(snap.file(name)) != info["sha256"]:
                return f"{name} does not match its recorded SHA-256"
        return None

    def _remove(self, key: str) -> None:
        entry = self.root / key
        if entry.exists():
            trash = self.root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
            entry.rename(trash)  # one atomic step: no reader sees a half-deleted entry
            shutil.rmtree(trash, ignore_errors=True)

    def remove(self, key: str) -> bool:
        with self.locked():
            existed = (self.root / key).exists()
            self._remove(key)
        return existed

    def prune(self, max_bytes: int, keep: set[str] | frozenset[str] = frozenset()) -> list[Snapshot]:
        """Remove least recently used entries until the store holds at most `max_bytes`; also leftovers of
        writers that died. Entries in `keep` stay. Returns what was removed."""
        removed: list[Snapshot] = []
        with self.locked():
            for leftover in self.root.glob(f"{TMP_PREFIX}*"):
                if time.time() - leftover.stat().st_mtime > 3600:  # a writer still copying is younger
                    shutil.rmtree(leftover, ignore_errors=True)
            entries = self.entries()
            total = sum(snap.size for snap in entries)
            for snap in reversed(entries):  # least recently used first
                if total <= max_bytes:
                    break
                if snap.key in keep:
                    continue
                self._remove(snap.key)
                total -= snap.size
                removed.append(snap)
        return removed

    def size(self) -> int:
        return sum(snap.size for snap in self.entries())
