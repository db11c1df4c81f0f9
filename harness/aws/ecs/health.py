"""Container health checks (the task definition's `healthCheck`), as the ECS agent evaluates them.

Pure state: the runner runs the command every `interval` and feeds the exit code in. Statuses:
UNKNOWN until the first result; a success makes the container HEALTHY; `retries` consecutive
failures make it UNHEALTHY, except that failures during `startPeriod` do not count. An UNHEALTHY
essential container makes ECS replace the task. Interval, timeout and start period are AWS-declared
durations on the local cloud's clock (scaled like the ALB's health checks); the timeout never goes below
`MIN_TIMEOUT_SECONDS`, the time starting the check's process takes on a loaded machine at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.aws.ecs.model import HealthCheck
from harness.core.clock import REAL_TIME, Clock

MIN_TIMEOUT_SECONDS = 2.0  # a Python check command starts in ~0.3 s CPU, ~1 s wall time on a busy runner


@dataclass
class ContainerHealth:
    check: HealthCheck
    started: float  # monotonic time the container started
    clock: Clock = REAL_TIME
    status: str = "UNKNOWN"
    consecutive_failures: int = 0
    next_run: float = field(default=0.0)
    running: bool = False

    def __post_init__(self) -> None:
        self.next_run = self.started  # the first check runs at once, like the agent's

    @property
    def interval(self) -> float:
        return self.clock.seconds(self.check.interval)

    @property
    def timeout(self) -> float:
        return max(MIN_TIMEOUT_SECONDS, self.clock.seconds(self.check.timeout))

    @property
    def start_period(self) -> float:
        return self.clock.seconds(self.check.start_period)

    def due(self, now: float) -> bool:
        return not self.running and now >= self.next_run

    def record(self, exit_code: int, now: float) -> str:
        """Feed one result in; returns the new status."""
        self.running = False
        self.next_run = now + self.interval
        if exit_code == 0:
            self.consecutive_failures = 0
            self.status = "HEALTHY"
            return self.status
        if now - self.started < self.start_period:
            return self.status  # failures in the start period do not count
        self.consecutive_failures += 1
        if self.consecutive_failures >= max(1, self.check.retries):
            self.status = "UNHEALTHY"
        return self.status
