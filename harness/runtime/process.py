"""The runtime daemon as seen from the stack: start it, wait until it runs the services, read what it publishes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.core.config import HarnessSettings
from harness.core.errors import HarnessError
from harness.core.process import ManagedProcess
from harness.core.rundir import RUNTIME_FILE


def read_runtime(run_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((run_dir / RUNTIME_FILE).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class RuntimeProcess:
    def __init__(self, settings: HarnessSettings, die_with_parent: bool) -> None:
        self.run_dir = settings.run_path
        argv = [sys.executable, "-m", "harness.runtime", "--run-dir", str(self.run_dir),
                "--project-dir", str(settings.project_dir.resolve()), "--time-scale", str(settings.time_scale)]
        if settings.smtp_port:
            argv += ["--smtp-port", str(settings.smtp_port)]
        if settings.run_before_services:
            argv += ["--run-before-services", *settings.run_before_services]
        self.process = ManagedProcess(
            name="runtime", argv=argv, run_dir=self.run_dir, log_path=self.run_dir / "runtime.log",
            die_with_parent=die_with_parent,
        )

    def _ready(self) -> bool:
        published = read_runtime(self.run_dir)
        if published and published.get("failed"):
            raise HarnessError(
                f"the data plane failed to start: {published.get('error', 'see the log')}",
                f"see {self.process.log_path} and the task logs under {self.run_dir / 'ecs'}",
            )
        return bool(published and published.get("ready"))

    def start(self, timeout: float) -> float:
        (self.run_dir / RUNTIME_FILE).unlink(missing_ok=True)
        self.process.start()
        return self.process.wait_ready(self._ready, timeout, interval=0.2)
