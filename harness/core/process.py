"""A child process with a readiness wait, a log file and a guaranteed stop."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.probes import eventually
from harness.core.reaper import marker_env, terminate

_PR_SET_PDEATHSIG = 1


def _preexec(user: str | None, die_with_parent: bool) -> Callable[[], None]:
    """Runs in the child before exec: drop to `user` when asked, then ask to die with the parent.

    The parent-death signal must be set after the uid change, because Linux clears it on setuid.
    """
    account = pwd.getpwnam(user) if user else None
    parent = os.getpid()

    def run() -> None:
        os.setsid()
        if account is not None:
            os.setgid(account.pw_gid)
            os.initgroups(account.pw_name, account.pw_gid)
            os.setuid(account.pw_uid)
        if die_with_parent:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

    return run


@dataclass
class ManagedProcess:
    """One long-running program started by the harness.

    `die_with_parent` ties it to the starting process; a detached stack (`harness up`, a test session's)
    leaves it running until `harness down` (or the session's guardian, `harness.testing.guardian`, reaps it).
    Either way the run marker lets the reaper find it.
    The child's environment is this process's with `env` on top, or with `inherit_env=False` exactly
    `env` (to leave a variable out); the run marker is added in both cases. Its stdin is /dev/null unless
    `stdin` says otherwise (`subprocess.PIPE`: the starter writes to `popen.stdin`).
    """

    name: str
    argv: Sequence[str]
    run_dir: Path
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    inherit_env: bool = True
    cwd: Path | None = None
    user: str | None = None
    die_with_parent: bool = False
    stop_signal: int = signal.SIGTERM
    stdin: int = subprocess.DEVNULL
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    pid: int | None = field(default=None, init=False)

    def start(self) -> int:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        inherited = os.environ if self.inherit_env else {}
        env = {**inherited, **self.env, **marker_env(self.run_dir)}
        log = self.log_path.open("ab")
        if self.user:
            with contextlib.suppress(KeyError):
                account = pwd.getpwnam(self.user)
                os.chown(self.log_path, account.pw_uid, account.pw_gid)
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=self.stdin,
                env=env,
                cwd=self.cwd,
                preexec_fn=_preexec(self.user, self.die_with_parent),
            )
        except FileNotFoundError as exc:
            raise HarnessError(f"cannot start {self.name}: {self.argv[0]} not found", "install it") from exc
        finally:
            log.close()
        self.pid = self.popen.pid
        return self.pid

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            proc = psutil.Process(self.pid)
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, probe: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
        """Poll `probe` until it returns True; fail fast with the log tail when the process exits.
        Returns the seconds that took."""
        started = time.monotonic()

        def alive_and_ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise HarnessError(
                    f"{self.name} exited with code {self.popen.returncode} before it was ready",
                    f"see {self.log_path}:\n{self.log_tail()}",
                )
            return probe()

        eventually(
            alive_and_ready, timeout=timeout, interval=interval, what=f"{self.name} ready",
            fatal=(HarnessError,),  # the process exited, or the probe knows the component failed for good
            timeout_error=lambda _: ReadinessTimeoutError(
                f"{self.name} was not ready after {timeout:.0f}s", f"see {self.log_path}:\n{self.log_tail()}"
            ),
        )
        return time.monotonic() - started

    def stop(self, grace: float = 10.0) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(self.pid)
            family = [proc, *proc.children(recursive=True)]
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.send_signal(self.stop_signal)
            _, alive = psutil.wait_procs([proc], timeout=grace)
            terminate([p for p in family if p.is_running()] + alive, grace=2.0)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=1)
