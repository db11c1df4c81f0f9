"""Find and stop every process a harness run started, even after that run crashed.

Each process the harness starts carries the environment marker ``MAILSTACK_HARNESS_RUN=<run dir>``;
children inherit it, so the marker survives a crashed owner, a lost state file and daemonising
programs. Reaping a run directory stops every live process that carries its marker.

A test session also tags what it starts with ``MAILSTACK_HARNESS_SESSION`` (the ids of the session and of
the sessions it runs inside), so its leak check counts its own processes, not another session's on the
same machine. A session guardian (``harness.testing.guardian``) carries the run marker of the directory it guards
and ``MAILSTACK_HARNESS_GUARDIAN=<owner pid>``; reaping that directory spares it while its owner lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import psutil

RUN_MARKER = "MAILSTACK_HARNESS_RUN"
SESSION_MARKER = "MAILSTACK_HARNESS_SESSION"
GUARDIAN_MARKER = "MAILSTACK_HARNESS_GUARDIAN"


def marker_env(run_dir: Path) -> dict[str, str]:
    """The environment entries that tag a process as belonging to `run_dir` (and to the test session
    this process runs in, if any)."""
    env = {RUN_MARKER: str(run_dir.resolve())}
    if os.environ.get(SESSION_MARKER):
        env[SESSION_MARKER] = os.environ[SESSION_MARKER]
    return env


def begin_session() -> str:
    """Give this process (and every process it starts from now on) a new session id; returns it.

    The id is appended to the inherited ones, so a session started from inside another (a test that runs
    pytest) still counts as part of the outer session too.
    """
    session = uuid.uuid4().hex[:12]
    os.environ[SESSION_MARKER] = " ".join([*os.environ.get(SESSION_MARKER, "").split(), session])
    return session


def _spared_guardian(env: dict[str, str]) -> bool:
    """A session guardian whose owner still runs: it is the one to reap the run when the owner dies."""
    owner = env.get(GUARDIAN_MARKER, "")
    return owner.isdigit() and running(int(owner))


def running(pid: int) -> bool:
    """`pid` is a live process (a zombie, dead but not yet waited for, is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def processes_of(run_dir: Path) -> list[psutil.Process]:
    """Live processes tagged with the marker of `run_dir`, and their descendants (never this process).

    Descendants count because some servers (PostgreSQL) overwrite their environment area with their
    process title, so only the first process of such a family still shows the marker.
    """
    wanted = str(run_dir.resolve())
    found: list[psutil.Process] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            env = proc.environ()
            if env.get(RUN_MARKER) == wanted and proc.status() != psutil.STATUS_ZOMBIE and not _spared_guardian(env):
                found.append(proc)
                found.extend(child for child in proc.children(recursive=True) if child.pid != me)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    unique = {proc.pid: proc for proc in found}
    return list(unique.values())


def processes_of_session(session: str) -> list[psutil.Process]:
    """Live processes started within test session `session`, harness or not (xdist workers), never this one."""
    found: list[psutil.Process] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != me and session in proc.environ().get(SESSION_MARKER, "").split():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def all_harness_processes(session: str | None = None) -> dict[str, list[psutil.Process]]:
    """Every live process carrying any harness marker, grouped by run directory; with `session`, only
    those started within that test session."""
    groups: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["pid"]):
        try:
            env = proc.environ()
            run = env.get(RUN_MARKER)
            if session is not None and session not in env.get(SESSION_MARKER, "").split():
                continue
            if run and proc.status() != psutil.STATUS_ZOMBIE:
                groups.setdefault(run, []).append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return groups


def terminate(procs: list[psutil.Process], grace: float = 10.0) -> list[psutil.Process]:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL what is left. Returns the ones killed hard."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return alive


def reap(run_dir: Path, grace: float = 10.0) -> int:
    """Stop every process of `run_dir`; returns how many there were."""
    deadline = time.monotonic() + grace + 10
    total = 0
    # Killing a parent can leave children that were mid-fork; sweep until none carry the marker.
    while time.monotonic() < deadline:
        procs = processes_of(run_dir)
        if not procs:
            break
        total += len(procs)
        terminate(procs, grace)
    return total


def processes_running(run_dir: Path, module: str) -> list[psutil.Process]:
    """Processes of `run_dir` whose command line mentions `module` (e.g. "harness.runtime")."""
    found = []
    for proc in processes_of(run_dir):
        try:
            if module in " ".join(proc.cmdline()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
