"""The one wait helper: poll a probe until a condition holds, and say what was last seen if not.

Tests use it as an assertion (`EventuallyFailed` is an AssertionError); components and processes use
it to wait until they are ready, with `fatal` errors that end the wait at once (a process that exited)
and `timeout_error` turning the timeout into the `ReadinessTimeoutError` that names the fix.
"""

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
    fatal: tuple[type[BaseException], ...] = (),
    timeout_error: Callable[[str], BaseException] | None = None,
) -> T:
    """Call `probe` until `until(value)` is true; return that value, or fail with the last value seen.

    A probe raising one of `fatal` ends the wait with that error; other errors count as "not yet".
    On timeout, `timeout_error(message)` is raised if given, else `EventuallyFailed(message)`.
    """
    deadline = time.monotonic() + timeout
    last: object = "<never observed>"
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            last, last_error = value, None
            if until(value):
                return value
        except fatal:
            raise
        except Exception as exc:  # a probe may fail while the system converges
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"last observed: {last!r}"
            if last_error is not None:
                detail += f"; last error: {type(last_error).__name__}: {last_error}"
            message = f"{what} did not hold within {timeout:.0f}s ({detail})"
            raise timeout_error(message) if timeout_error is not None else EventuallyFailed(message)
        time.sleep(interval)
