"""The two layers a cold boot takes from the snapshot store and gives back to it.

* The **cloud** layer (key ``SnapshotKeys.cloud``): the emulator's state right after apply and RDS binding,
  before the data plane starts (so no task, target or metric of a run is in it), with the Terraform state,
  the lock file ``terraform init`` wrote and the outputs. Its endpoint is the saving emulator's: a restore
  onto another port rewrites it in the Terraform state and the outputs (the emulator rewrites its own).
* The **database** layer (key ``SnapshotKeys.database``): a base backup of the PostgreSQL cluster once the
  data plane is ready (the run-before-services tasks, the migrations, have run), with the superuser's
  password. It is only restored over its own cloud layer.

``find`` picks the cloud to restore: the exact key, else the *nearest*: a saved cloud of the same
compatibility whose Terraform tree differs in the fewest files (ties: the newest), and never one whose file
names are less than half this tree's (another root module). The boot applies the difference; a snapshot of
an unrelated module with the same file names would only make that apply bigger, never wrong.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulator.backend import MotoBackend
from harness.postgres.cluster import LocalPostgres
from harness.postgres.snapshot import ARCHIVE, backup_cluster, restore_cluster
from harness.snapshots.keys import SnapshotKeys, differing
from harness.snapshots.store import Snapshot, SnapshotStore, SnapshotUnusable

CLOUD = "cloud"
DATABASE = "database"
EMULATOR_STATE = "emulator.state"
TFSTATE = "terraform.tfstate"
LOCK_FILE = "terraform.lock.hcl"  # `.terraform.lock.hcl` in the working directory
PASSWORD_FILE = "superuser.password"  # noqa: S105 - a file name


@dataclass(frozen=True)
class Restore:
    """A checked-out snapshot: its files under `directory`, ready to boot from."""

    cloud: Snapshot
    changed: int  # Terraform files that differ from the saved tree: 0 for the exact key
    database: Snapshot | None
    directory: Path

    @property
    def exact(self) -> bool:
        return self.changed == 0

    @property
    def emulator_state(self) -> Path:
        return self.directory / EMULATOR_STATE


def _moved(text: str, old_endpoint: str, new_endpoint: str) -> str:
    return text.replace(old_endpoint, new_endpoint) if old_endpoint and old_endpoint != new_endpoint else text


class SnapshotLayers:
    def __init__(self, store: SnapshotStore, keys: SnapshotKeys, max_bytes: int,
                 report: Callable[[str], None]) -> None:
        self.store = store
        self.keys = keys
        self.max_bytes = max_bytes
        self.report = report

    # -- restoring -----------------------------------------------------------------------------------
    def find(self) -> tuple[Snapshot, int] | None:
        """The cloud to restore and how many Terraform files differ from it (0: the exact key)."""
        exact = self.store.get(self.keys.cloud)
        if exact is not None and exact.kind == CLOUD:
            return exact, 0
        best: tuple[int, float, Snapshot] | None = None
        for snap in self.store.entries(CLOUD):
            if snap.meta.get("compatibility") != self.keys.compatibility:
                continue
            theirs = dict(snap.meta.get("sources") or {})
            names, their_names = set(self.keys.sources), set(theirs)
            if len(names & their_names) * 2 < len(names | their_names):
                continue  # another root module (most files named differently), not an older version of this one
            changed = differing(self.keys.sources, theirs)
            if best is None or (changed, -snap.created_at) < (best[0], -best[2].created_at):
                best = (changed, snap.created_at, snap)
        return (best[2], best[0]) if best else None

    def checkout(self, directory: Path) -> Restore | None:
        """Copy the best matching layers into `directory`; None (after one line) when none is usable."""
        found = self.find()
        if found is None:
            return None
        cloud, changed = found
        shutil.rmtree(directory, ignore_errors=True)
        try:
            self.store.checkout(cloud.key, directory)
        except SnapshotUnusable as exc:
            self.report(f"{exc.problem}; {exc.fix}: booting cold")
            return None
        database = None
        if changed == 0 and (saved := self.store.get(self.keys.database)) is not None:
            try:
                database = self.store.checkout(saved.key, directory / DATABASE)
            except SnapshotUnusable as exc:
                self.report(f"{exc.problem}; {exc.fix}: the database starts empty")
        return Restore(cloud=cloud, changed=changed, database=database, directory=directory)

    def unusable(self, restore: Restore, problem: str) -> None:
        """The emulator refused the cloud of `restore`: drop it from the store, say so in one line."""
        self.store.remove(restore.cloud.key)
        self.report(f"snapshot {restore.cloud.key[:12]} is unusable ({problem}); it was removed: booting cold")

    @staticmethod
    def place_terraform(restore: Restore, workdir: Path, endpoint: str) -> None:
        """The saved Terraform state and lock file into `workdir`, the saving endpoint replaced by `endpoint`."""
        workdir.mkdir(parents=True, exist_ok=True)
        old = str(restore.cloud.meta.get("endpoint", ""))
        state = (restore.directory / TFSTATE).read_text()
        (workdir / "terraform.tfstate").write_text(_moved(state, old, endpoint))
        (workdir / "terraform.tfstate.backup").unlink(missing_ok=True)
        if (restore.directory / LOCK_FILE).is_file():
            shutil.copyfile(restore.directory / LOCK_FILE, workdir / ".terraform.lock.hcl")

    @staticmethod
    def outputs(restore: Restore, endpoint: str) -> dict[str, Any]:
        old = str(restore.cloud.meta.get("endpoint", ""))
        return dict(json.loads(_moved(json.dumps(restore.cloud.meta.get("outputs", {})), old, endpoint)))

    @staticmethod
    def restore_database(restore: Restore, pg: LocalPostgres) -> bool:
        """Put the saved cluster in place of `pg`'s data directory (before it starts); False when there is none."""
        if restore.database is None:
            return False
        folder = restore.directory / DATABASE
        restore_cluster(pg, folder / ARCHIVE, (folder / PASSWORD_FILE).read_text().strip())
        return True

    # -- saving --------------------------------------------------------------------------------------
    def save_cloud(self, backend: MotoBackend, workdir: Path, outputs: dict[str, Any], staging: Path) -> Snapshot:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        backend.save_state(staging / EMULATOR_STATE)
        files = {EMULATOR_STATE: staging / EMULATOR_STATE, TFSTATE: workdir / "terraform.tfstate"}
        if (workdir / ".terraform.lock.hcl").is_file():
            files[LOCK_FILE] = workdir / ".terraform.lock.hcl"
        meta = {"compatibility": self.keys.compatibility, "sources": self.keys.sources,
                "endpoint": backend.endpoint_url, "outputs": outputs}
        try:
            return self.store.save(self.keys.cloud, CLOUD, files, meta)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def save_database(self, pg: LocalPostgres, staging: Path) -> Snapshot:
        shutil.rmtree(staging, ignore_errors=True)
        archive = backup_cluster(pg, staging)
        try:
            return self.store.save(self.keys.database, DATABASE,
                                   {ARCHIVE: archive, PASSWORD_FILE: pg.password_file},
                                   {"cloud": self.keys.cloud})
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def prune(self) -> None:
        removed = self.store.prune(self.max_bytes, keep={self.keys.cloud, self.keys.database})
        if removed:
            self.report(f"snapshot store over its cap: removed {len(removed)} least recently used")

    def has_database(self) -> bool:
        return self.store.get(self.keys.database) is not None

    def has_cloud(self) -> bool:
        return self.store.get(self.keys.cloud) is not None


def describe(snap: Snapshot) -> dict[str, Any]:
    """One store entry for `harness snapshot list --json`."""
    return {"key": snap.key, "kind": snap.kind, "size": snap.size, "created_at": snap.created_at,
            "last_used": snap.last_used, "files": sorted(snap.files)}

