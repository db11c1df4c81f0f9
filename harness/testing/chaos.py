"""Fault injection on what the local cloud runs: crash, freeze, thaw and starve ECS tasks (their processes).

Tasks are found in what the data plane publishes (`runtime.json`), so a fault hits exactly the
processes the ECS runner started for that service. Freezing (SIGSTOP) models a hung task: it keeps
its port, stops answering, and the ALB's health checks and the container health check must notice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

from harness.core.errors import HarnessError
from harness.testing.handle import StackHandle


def service_tasks(handle: StackHandle, service_name: str) -> list[dict[str, Any]]:
    """Every task (running or stopped) the ECS runner publishes for `service_name`, freshly read."""
    handle.refresh()
    service = handle.runtime.ecs.service_named(service_name) if handle.runtime.ecs else None
    if service is not None:
        return list(service.tasks)
    raise HarnessError(f"no ECS service named {service_name} runs here", "see `harness status` for the services")


def running_tasks(handle: StackHandle, service_name: str) -> list[dict[str, Any]]:
    return [task for task in service_tasks(handle, service_name) if task.get("lastStatus") == "RUNNING"]


def _signal_task(task: dict[str, Any], signum: int) -> list[int]:
    hit = []
    for pid in task["harness"]["pids"].values():
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)  # the whole container: its PID 1 leads a process group
            hit.append(pid)
    return hit


def kill_task(task: dict[str, Any]) -> list[int]:
    """SIGKILL: the task crashes (exit 137); the ECS runner replaces it after its restart backoff."""
    return _signal_task(task, signal.SIGKILL)


def freeze_task(task: dict[str, Any]) -> list[int]:
    """SIGSTOP: the task hangs with its port open; health checks time out."""
    return _signal_task(task, signal.SIGSTOP)


def thaw_task(task: dict[str, Any]) -> list[int]:
    return _signal_task(task, signal.SIGCONT)


class Throttle:
    """CPU starvation of one task: stopped for `stopped_for` seconds, then run for `running_for`, over and over
    (what `cpulimit` does). The task keeps its port and answers every request, only late: a health check
    with a shorter timeout than `stopped_for` mostly times out, a client that waits gets its answer.

    Ends (the task is left running) on `stop()`, or by itself once the task's processes are gone."""

    def __init__(self, task: dict[str, Any], stopped_for: float, running_for: float = 0.05) -> None:
        if stopped_for <= 0 or running_for <= 0:
            raise HarnessError(f"throttle periods must be positive (got {stopped_for}, {running_for})",
                               "pass e.g. stopped_for=5.0, running_for=0.05")
        self.task, self.stopped_for, self.running_for = task, stopped_for, running_for
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"throttle-{task.get('taskArn', '?')[-8:]}",
                                        daemon=True)

    def start(self) -> Throttle:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._done.is_set():
                if not freeze_task(self.task):
                    return  # the task is gone
                self._done.wait(self.stopped_for)
                thaw_task(self.task)
                self._done.wait(self.running_for)
        finally:
            thaw_task(self.task)

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.stopped_for + 5)
        thaw_task(self.task)

    def __enter__(self) -> Throttle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
