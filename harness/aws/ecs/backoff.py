"""Restart throttling per service: exponential backoff after tasks that fail, like ECS's launch throttle.

Each failure (a task that failed to start, or whose essential container exited without being asked
to) doubles the wait before the service may launch again: base, 2 x base, 4 x base, ... capped.
A task that stays RUNNING for `stable_after` seconds resets the count. All durations are AWS seconds
on the local cloud's clock.
"""

from __future__ import annotations

import threading

from harness.core.clock import REAL_TIME, Clock


class RestartBackoff:
    def __init__(
        self, base: float = 10.0, cap: float = 300.0, factor: float = 2.0, stable_after: float = 60.0,
        clock: Clock = REAL_TIME,
    ) -> None:
        self.clock = clock
        self.base = clock.seconds(base)
        self.cap = clock.seconds(cap)
        self.factor = factor
        self.stable_after = clock.seconds(stable_after)
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()

    def delay_for(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return float(min(self.cap, self.base * self.factor ** (failures - 1)))

    def failed(self, key: str, now: float | None = None) -> float:
        """Record a failure; returns the delay until the next launch is allowed."""
        now = self.clock.monotonic() if now is None else now
        with self._lock:
            count = self._failures.get(key, 0) + 1
            self._failures[key] = count
            delay = self.delay_for(count)
            self._not_before[key] = now + delay
            return delay

    def ran_for(self, key: str, seconds: float) -> None:
        """A task of `key` has been RUNNING `seconds`; long enough resets the failure count."""
        if seconds >= self.stable_after:
            with self._lock:
                self._failures.pop(key, None)

    def ready(self, key: str, now: float | None = None) -> bool:
        now = self.clock.monotonic() if now is None else now
        with self._lock:
            return now >= self._not_before.get(key, 0.0)

    def failures(self, key: str) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
            self._not_before.pop(key, None)
