"""Locate the PostgreSQL server binaries."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.core.errors import MissingBinaryError

_NEEDED = ("initdb", "postgres")


def _has_all(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _NEEDED)


def _version_key(directory: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in directory.parent.name.split("."))
    except ValueError:
        return (0,)


def find_postgres_bin_dir(configured: Path | None = None) -> Path:
    """The directory with `initdb` and `postgres`: configured, on PATH, `pg_config --bindir`, or Debian's."""
    if configured is not None:
        if _has_all(configured):
            return configured
        raise MissingBinaryError(
            f"HARNESS_POSTGRES_BIN_DIR={configured} does not contain initdb and postgres",
            "point it at the bin directory of a PostgreSQL server install (e.g. /usr/lib/postgresql/15/bin)",
        )
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    candidates.extend(debian)
    candidates.extend([Path("/usr/local/pgsql/bin"), Path("/opt/homebrew/bin"), Path("/usr/local/bin")])
    for directory in candidates:
        if _has_all(directory):
            return directory
    raise MissingBinaryError(
        "PostgreSQL server binaries (initdb, postgres) not found",
        "install a PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; macOS: "
        "`brew install postgresql@15`) or set HARNESS_POSTGRES_BIN_DIR to its bin directory",
    )
