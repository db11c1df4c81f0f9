"""The local cloud's one clock: AWS-declared durations, run `time_scale` times faster.

Terraform declares AWS durations (a 30 s health check interval, a 60 s alarm period, a 20 s SNS retry
delay); the local cloud runs them `time_scale` times faster without touching the Terraform. Every timer
of the data plane and of the emulator's patches converts through `Clock.seconds`, so one setting
(`HARNESS_TIME_SCALE`) speeds everything up alike.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TIME_SCALE_ENV = "HARNESS_TIME_SCALE"  # also how the emulator process learns the scale


@dataclass(frozen=True)
class Clock:
    """`seconds(aws_seconds)` is how long an AWS-declared duration lasts here; `now`/`monotonic` can be
    replaced by a test's fake time."""

    time_scale: float = 1.0
    now: Callable[[], float] = field(default=time.time, compare=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(
                f"time_scale must be positive, not {self.time_scale!r} (e.g. 10 runs a 30 s interval in 3 s)"
            )

    def seconds(self, aws_seconds: float) -> float:
        """Real seconds an AWS-declared duration lasts."""
        return float(aws_seconds) / self.time_scale

    def sleep(self, aws_seconds: float) -> None:
        time.sleep(self.seconds(aws_seconds))

    def wait(self, event: threading.Event, aws_seconds: float) -> bool:
        """Wait for `event` at most an AWS-declared duration; True when it was set."""
        return event.wait(self.seconds(aws_seconds))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Clock:
        """The clock of a child process (the emulator), whose scale comes in `HARNESS_TIME_SCALE`."""
        raw = (os.environ if environ is None else environ).get(TIME_SCALE_ENV, "1")
        try:
            return cls(float(raw))
        except ValueError as exc:
            raise ValueError(f"{TIME_SCALE_ENV}={raw!r} is not a positive number; unset it or set e.g. 5") from exc


REAL_TIME = Clock()
