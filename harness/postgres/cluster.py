"""A throwaway PostgreSQL cluster from the local server binaries, tuned for tests (durability off)."""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from harness.core.errors import HarnessError
from harness.core.process import ManagedProcess
from harness.core.rundir import PostgresInfo as PostgresInfo  # the stack.json record, defined with the run directory
from harness.postgres.binaries import find_postgres_bin_dir

SUPERUSER = "postgres"
_SPEED_OVER_DURABILITY = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "128MB",
}


def _server_user() -> str | None:
    """initdb and postgres refuse to run as root; then they run as the `postgres` account."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise HarnessError(
            "running as root, but there is no `postgres` user to run the PostgreSQL server as",
            "run the harness as an ordinary user, or create the account: `useradd --system postgres`",
        ) from exc
    return "postgres"


def state_dir_for(preferred: Path) -> Path:
    """`preferred`, unless the server account cannot reach it (a root-owned private home): then a
    directory under the system temp dir, named after `preferred` so each run directory keeps its own."""
    user = _server_user()
    preferred.mkdir(parents=True, exist_ok=True)
    if user is None or _reachable_by(user, preferred.parent):
        return preferred
    digest = hashlib.sha256(str(preferred.resolve()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"mailstack-harness-{digest}" / "postgres"
    fallback.mkdir(parents=True, exist_ok=True)
    fallback.parent.chmod(0o755)
    return fallback


def _reachable_by(user: str, path: Path) -> bool:
    """`user` can traverse every directory down to `path` (the harness then hands `path`'s child to it)."""
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True, check=False)
    return probe.returncode == 0


def _usable_by(user: str | None, path: Path) -> bool:
    if user is None:
        return True
    probe = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-w", str(path)], capture_output=True, check=False
    )
    return probe.returncode == 0


class LocalPostgres:
    """`start()` initialises (once) and runs a cluster in `state_dir`; `stop()` shuts it down fast."""

    def __init__(
        self,
        state_dir: Path,
        run_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        bin_dir: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.bin_dir = find_postgres_bin_dir(bin_dir)
        self.user = _server_user()
        self.host = host
        self.port = port
        self.state_dir = state_dir
        self.data_dir = state_dir / "data"
        self.socket_dir = state_dir / "socket"
        self.password_file = state_dir / "superuser.password"
        self.process = ManagedProcess(
            name="postgres",
            argv=self._server_argv(),
            run_dir=run_dir,
            log_path=state_dir / "postgres.log",
            user=self.user,
            die_with_parent=die_with_parent,
            stop_signal=signal.SIGINT,  # "fast" shutdown: no waiting for clients to leave
        )

    def _server_argv(self) -> list[str]:
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.socket_dir}"]
        for key, value in _SPEED_OVER_DURABILITY.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    @property
    def info(self) -> PostgresInfo:
        return PostgresInfo(self.host, self.port, SUPERUSER, self.password_file.read_text().strip(),
                            str(self.data_dir))

    def _chown(self, path: Path) -> None:
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(path, account.pw_uid, account.pw_gid)

    def prepare(self) -> None:
        """Initialise the data directory unless it holds a cluster (from an earlier start or a restore)."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.password_file.write_text(secrets.token_urlsafe(18))
        for path in (self.state_dir, self.socket_dir, self.password_file):
            self._chown(path)
        if not _usable_by(self.user, self.state_dir):
            raise HarnessError(
                f"the `{self.user}` account cannot write {self.state_dir}",
                "set HARNESS_RUN_DIR to a directory every user can reach (e.g. under /tmp)",
            )
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-E", "UTF8",
                "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256",
                f"--pwfile={self.password_file}"]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise HarnessError(f"initdb failed in {self.data_dir}", result.stderr.strip()[-2000:])

    def start(self, timeout: float = 60.0) -> float:
        self.prepare()
        self.process.start()
        return self.process.wait_ready(self.ready, timeout)

    def ready(self) -> bool:
        with psycopg.connect(self.info.dsn(), connect_timeout=2) as conn:
            conn.execute("select 1")
        return True

    def stop(self) -> None:
        self.process.stop(grace=15.0)

    def trust_role(self, role: str) -> None:
        """Let `role` log in over TCP without a password (for instances whose password nobody can read)."""
        hba = self.data_dir / "pg_hba.conf"
        line = f"host all {role} {self.host}/32 trust\n"
        text = hba.read_text()
        if line not in text:
            hba.write_text(line + text)  # first matching line wins
        with self.connect() as conn:
            conn.execute("select pg_reload_conf()")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.info.dsn(dbname), autocommit=True)
