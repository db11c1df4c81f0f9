"""Fault injection on what the local cloud runs: crash, freeze and thaw ECS tasks (their processes).

Tasks are found in what the data plane publishes (`runtime.json`), so a fault hits exactly the
processes the ECS runner started for that service. Freezing (SIGSTOP) models a hung task: it keeps
its port, stops answering, and the ALB's health checks and the container health check must notice.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from harness.errors import HarnessError
from harness.handle import StackHandle


def running_tasks(handle: StackHandle, service_name: str) -> list[dict[str, Any]]:
    handle.refresh()
    for service in handle.runtime.get("ecs", {}).get("services", {}).values():
        if service["serviceName"] == service_name:
            return [task for task in service["tasks"] if task.get("lastStatus") == "RUNNING"]
    raise HarnessError(f"no ECS service named {service_name} runs here", "see `harness status` for the services")


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
