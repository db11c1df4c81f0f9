"""Scaled CloudWatch periods: which real-time window stands for which alarm period.

The Terraform says ``period = 60``; with ``time_scale = 5`` the local cloud's minute lasts 12 real seconds.
Datapoints keep real timestamps (what every publisher stamps, including code we do not own), and each
period becomes a *window* of ``period / time_scale`` real seconds. Windows are numbered from the Unix
epoch, and their edges are whole seconds (``floor(k * width)``) because CloudWatch queries take whole
seconds, so adjacent windows share an edge and every datapoint falls in exactly one. A window is never
shorter than one second: the scale is capped at ``period`` for that period.

Windows of different periods nest: a 300 s window is five 60 s windows, as on AWS, because
``floor(5k * w) == floor(k * 5w)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.core.clock import Clock

MIN_WINDOW_SECONDS = 1.0


@dataclass(frozen=True, order=True)
class Window:
    """One scaled period: real epoch seconds [start, end), `index` counted from the epoch."""

    index: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


class Periods:
    """The windows of CloudWatch periods on the local cloud's `Clock`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @property
    def time_scale(self) -> float:
        return self.clock.time_scale

    def now(self) -> float:
        return self.clock.now()

    def width(self, period: float) -> float:
        """Real seconds one `period` (alarm seconds) lasts."""
        return max(MIN_WINDOW_SECONDS, self.clock.seconds(period))

    def window(self, period: float, index: int) -> Window:
        width = self.width(period)
        return Window(index, float(math.floor(index * width)), float(math.floor((index + 1) * width)))

    def index_at(self, period: float, t: float) -> int:
        """The index of the window of `period` that contains real time `t`."""
        width = self.width(period)
        index = math.floor(t / width)
        while self.window(period, index).start > t:
            index -= 1
        while self.window(period, index).end <= t:
            index += 1
        return index

    def current(self, period: float, t: float | None = None) -> Window:
        return self.window(period, self.index_at(period, self.now() if t is None else t))

    def last_complete(self, period: float, t: float | None = None) -> Window:
        """The most recent window that has ended at `t` (default now)."""
        return self.window(period, self.current(period, t).index - 1)

    def recent(self, period: float, count: int, t: float | None = None) -> list[Window]:
        """The `count` most recent complete windows, oldest first."""
        last = self.last_complete(period, t).index
        return [self.window(period, index) for index in range(last - count + 1, last + 1)]

    def next_boundary(self, period: float, t: float | None = None) -> float:
        """When the window containing `t` ends."""
        return self.current(period, t).end
