"""The runtime daemon as seen from the stack: start it, wait until it runs the services, read what it publishes."""

from __future__ import annotations

import sys

from harness.core.config import HarnessSettings
from harness.core.errors import HarnessError
from harness.core.process import ManagedProcess
from harness.core.rundir import RunDir


class RuntimeProcess:
    def __init__(self, settings: HarnessSettings, die_with_parent: bool) -> None:
        self.run_dir = settings.run_path
        self.paths = RunDir(self.run_dir)
        argv = [sys.executable, "-m", "harness.runtime", "--run-dir", str(self.run_dir),
                "--project-dir", str(settings.project_dir.resolve()), "--time-scale", str(settings.time_scale)]
        if settings.smtp_port:
            argv += ["--smtp-port", str(settings.smtp_port)]
        if settings.run_before_services:
            argv += ["--run-before-services", *settings.run_before_services]
        self.process = ManagedProcess(
            name="runtime", argv=argv, run_dir=self.run_dir, log_path=self.paths.runtime_log,
            die_with_parent=die_with_parent,
        )

    def _ready(self) -> bool:
        published = self.paths.read_runtime()
        if published and published.failed:
            raise HarnessError(
                f"the data plane failed to start: {published.error or 'see the log'}",
                f"see {self.process.log_path} and the task logs under {self.paths.task_logs_dir}",
            )
        return bool(published and published.ready)

    def spawn(self, wait_for_go: bool = False) -> None:
        """Start the process; with `wait_for_go` it imports everything, then waits for `go` to read the state."""
        self.paths.runtime_file.unlink(missing_ok=True)
        self.paths.runtime_go.unlink(missing_ok=True)
        if wait_for_go:
            self.process.argv = [*self.process.argv, "--wait-for-go"]
        self.process.start()

    def go(self) -> None:
        self.paths.runtime_go.touch()

    def wait_ready(self, timeout: float) -> float:
        return self.process.wait_ready(self._ready, timeout, interval=0.1)

    def start(self, timeout: float) -> float:
        self.spawn()
        return self.wait_ready(timeout)
