"""A running local cluster to one archive and back: ``pg_basebackup`` while it serves, a data directory
restored from it before the server starts.

The archive is PostgreSQL's own base backup (tar, gzip level 1, the WAL it needs fetched into it), so the
server restored from it recovers to the backup's end like any restored base backup. The superuser's
password travels beside it: the restored cluster answers the same DSN secrets as the saved one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from harness.core.errors import HarnessError
from harness.postgres.cluster import SUPERUSER, LocalPostgres

ARCHIVE = "base.tar.gz"


def backup_cluster(pg: LocalPostgres, dest_dir: Path) -> Path:
    """A base backup of the running cluster `pg`, as ``dest_dir/base.tar.gz``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".backup-") as work:
        argv = [str(pg.bin_dir / "pg_basebackup"), "-h", str(pg.socket_dir), "-p", str(pg.port), "-U", SUPERUSER,
                "-D", work, "-F", "t", "-X", "fetch", "-Z", "client-gzip:1", "-c", "fast", "--no-sync",
                "--no-manifest"]
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                env={**os.environ, "PGPASSWORD": pg.info.password})
        if result.returncode != 0:
            raise HarnessError(f"pg_basebackup of {pg.data_dir} failed", result.stderr.strip()[-2000:])
        archive = dest_dir / ARCHIVE
        Path(work, ARCHIVE).replace(archive)
    return archive


def restore_cluster(pg: LocalPostgres, archive: Path, password: str) -> None:
    """Make `pg`'s data directory the one in `archive` (from ``backup_cluster``); `pg` must not be running."""
    if pg.data_dir.exists():
        shutil.rmtree(pg.data_dir)
    pg.state_dir.mkdir(parents=True, exist_ok=True)
    pg.socket_dir.mkdir(exist_ok=True)
    staging = pg.state_dir / ".restoring"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
    except (OSError, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise HarnessError(f"cannot unpack the database archive {archive}: {exc}",
                           "boot without the snapshot (a cold boot)") from exc
    staging.chmod(0o700)  # the server refuses a data directory others can read
    pg.password_file.write_text(password)
    if pg.user:
        account = pwd.getpwnam(pg.user)
        for path in (pg.state_dir, pg.socket_dir, pg.password_file, staging):
            os.chown(path, account.pw_uid, account.pw_gid)
        for root, dirs, files in os.walk(staging):
            for name in dirs + files:
                os.chown(Path(root, name), account.pw_uid, account.pw_gid)
    staging.rename(pg.data_dir)
