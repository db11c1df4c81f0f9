"""Drivers: what actually runs a task's containers.

* `ProcessDriver` (default): each essential container is a local process (`harness.core.process.ManagedProcess`:
  own session, run marker for the reaper, output to a log file, optionally dies with the harness).
  Stop is Docker's: the stop signal (SIGTERM) to the main process only, SIGKILL to its whole process
  group after the grace period; when the main process exits, what it left in its group is killed too,
  as a container's PID namespace would.
* `ContainerDriver`: the same interface for Docker containers (image built from the same Dockerfile,
  awsvpc emulated by a user-defined network). Not implemented yet: selecting it raises a HarnessError.

Exit codes follow Docker: a process killed by signal N exits with 128 + N (SIGKILL -> 137).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from harness.aws.ecs.images import harness_path, resolve_program
from harness.core.errors import HarnessError
from harness.core.process import ManagedProcess
from harness.core.reaper import marker_env


@dataclass(frozen=True)
class ContainerLaunch:
    """One container, fully resolved: what to run, with which environment, logging where."""

    name: str
    image: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path | None = None
    essential: bool = True
    ports: Sequence[int] = ()
    workdir: str | None = None  # inside the image (for the container driver)


@dataclass(frozen=True)
class TaskLaunch:
    task_id: str
    name: str  # human-readable process name prefix: "<family>-<first 8 hex of the task id>"
    ip: str
    containers: Sequence[ContainerLaunch]
    stop_signal: int = signal.SIGTERM
    die_with_parent: bool = True


class TaskHandle(Protocol):
    """A started task, as its driver sees it."""

    def pids(self) -> dict[str, int | None]: ...

    def poll(self) -> dict[str, int | None]:
        """Exit code per container, None while it runs."""
        ...

    def stop(self, grace: float) -> dict[str, int | None]:
        """Stop signal, up to `grace` seconds, then SIGKILL; returns the exit codes."""
        ...

    def kill(self) -> None:
        """SIGKILL every container now (fault injection)."""
        ...

    def run_check(self, container: str, command: Sequence[str], timeout: float) -> int:
        """Run a container health check command (`["CMD", ...]` / `["CMD-SHELL", "..."]`) in its context."""
        ...


class TaskDriver(Protocol):
    name: str

    def launch(self, launch: TaskLaunch) -> TaskHandle: ...


def docker_exit_code(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class ProcessHandle:
    def __init__(self, launch: TaskLaunch, processes: dict[str, ManagedProcess], run_dir: Path) -> None:
        self.launch = launch
        self.processes = processes
        self.run_dir = run_dir
        self._containers = {c.name: c for c in launch.containers}
        self._reaped: set[str] = set()

    def pids(self) -> dict[str, int | None]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def poll(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for name, proc in self.processes.items():
            code = proc.popen.poll() if proc.popen is not None else None
            if code is not None and name not in self._reaped and proc.pid is not None:
                _kill_group(proc.pid)  # the container's other processes die with its PID 1
                self._reaped.add(name)
            codes[name] = docker_exit_code(code)
        return codes

    def stop(self, grace: float) -> dict[str, int | None]:
        families: list[psutil.Process] = []
        for proc in self.processes.values():
            if proc.pid is None or proc.popen is None or proc.popen.poll() is not None:
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                main = psutil.Process(proc.pid)
                families.extend([main, *main.children(recursive=True)])
                main.send_signal(self.launch.stop_signal)
        deadline = time.monotonic() + max(grace, 0.0)
        while time.monotonic() < deadline and any(
            p.popen is not None and p.popen.poll() is None for p in self.processes.values()
        ):
            time.sleep(0.02)
        self.kill()
        for proc in families:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.kill()
        for proc in self.processes.values():
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)
        return self.poll()

    def kill(self) -> None:
        for proc in self.processes.values():
            if proc.pid is not None:
                _kill_group(proc.pid)

    def run_check(self, container: str, command: Sequence[str], timeout: float) -> int:
        spec = self._containers[container]
        if not command:
            return 0
        kind, rest = command[0], list(command[1:])
        if kind == "NONE":
            return 0
        if kind == "CMD-SHELL":
            argv = ["/bin/sh", "-c", " ".join(rest)]
        elif kind == "CMD":
            argv = resolve_program(rest, harness_path(), spec.cwd)
        else:  # ECS accepts a bare argv too
            argv = resolve_program(list(command), harness_path(), spec.cwd)
        env = {**os.environ, **spec.env, **marker_env(self.run_dir)}
        try:
            return subprocess.run(argv, env=env, cwd=spec.cwd, capture_output=True, timeout=timeout,
                                  check=False).returncode
        except subprocess.TimeoutExpired:
            return 124
        except OSError:
            return 127


class ProcessDriver:
    """Runs each essential container of a task as a local process."""

    name = "process"

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def launch(self, launch: TaskLaunch) -> ProcessHandle:
        processes: dict[str, ManagedProcess] = {}
        try:
            for container in launch.containers:
                proc = ManagedProcess(
                    name=f"{launch.name}/{container.name}",
                    argv=list(container.argv),
                    run_dir=self.run_dir,
                    log_path=container.log_path,
                    env=dict(container.env),
                    cwd=container.cwd,
                    die_with_parent=launch.die_with_parent,
                )
                proc.start()
                processes[container.name] = proc
        except BaseException:
            ProcessHandle(launch, processes, self.run_dir).kill()
            raise
        return ProcessHandle(launch, processes, self.run_dir)


CONTAINER_DRIVER_MISSING = HarnessError(
    "the container driver is not available yet (tasks cannot run as Docker containers in this version)",
    "use the process driver (the default): driver='process'",
)


class ContainerDriver(ABC):
    """Runs tasks as Docker containers. Interface only for now; to be filled in for Docker.

    Plan: build (or reuse) the image from the same `ImageSource` (Dockerfile, context, target) with
    `harness.aws.ecs.imagebuild.ImageBuilder` (content-tagged, `BASE_IMAGE` from `baseimages.choose`), create
    a user-defined bridge network standing in for the VPC, run each essential container with the
    resolved environment, `--ip <task ip>`, the task definition's stopTimeout as `--stop-timeout`,
    and stream `docker logs` into the same log file the process driver writes.
    """

    name = "container"

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    @abstractmethod
    def launch(self, launch: TaskLaunch) -> TaskHandle:
        raise CONTAINER_DRIVER_MISSING


def select_driver(name: str, run_dir: Path) -> TaskDriver:
    """The driver called `name` ("process" or "container"); errors name what is available."""
    if name == "process":
        return ProcessDriver(run_dir)
    if name in ("container", "docker"):
        raise HarnessError(CONTAINER_DRIVER_MISSING.problem, CONTAINER_DRIVER_MISSING.fix)
    raise HarnessError(f"unknown ECS driver {name!r}", "choose 'process' (the default) or, later, 'container'")
