"""Eventually-style assertions: poll a probe until a condition holds, and say what was last seen if not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class EventuallyFailed(AssertionError):
    """The condition did not hold before the deadline; the message carries the last observed value."""


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call `probe` until `until(value)` is true; return that value, or fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = "<never observed>"
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            last, last_error = value, None
            if until(value):
                return value
        except Exception as exc:  # a probe may fail while the system converges
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"last observed: {last!r}"
            if last_error is not None:
                detail += f"; last error: {type(last_error).__name__}: {last_error}"
            raise EventuallyFailed(f"{what} did not hold within {timeout:.0f}s ({detail})")
        time.sleep(interval)
