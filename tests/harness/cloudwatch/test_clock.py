"""Scaled periods: windows of period / time_scale real seconds, whole-second edges, nested periods."""

from __future__ import annotations

import itertools

import pytest

from harness.aws.cloudwatch.periods import Periods
from harness.core.clock import Clock


def test_a_minute_at_time_scale_5_is_a_12_second_window() -> None:
    clock = Periods(Clock(5, now=lambda: 1_000_000.0))
    assert clock.width(60) == 12.0
    current = clock.current(60)
    assert current.contains(1_000_000.0)
    assert current.seconds == 12.0
    assert clock.last_complete(60).end == current.start
    assert [w.end for w in clock.recent(60, 3)] == [current.start - 24, current.start - 12, current.start]


def test_edges_are_whole_seconds_and_windows_tile_time() -> None:
    clock = Periods(Clock(7))  # 60 / 7 = 8.571... seconds
    windows = [clock.window(60, k) for k in range(100, 200)]
    assert all(w.start == int(w.start) and w.end == int(w.end) for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert {w.seconds for w in windows} <= {8.0, 9.0}
    for t in (1_000_000.0, 1_000_000.5, 1_000_008.99):
        assert clock.current(60, t).contains(t)


def test_longer_periods_nest_on_minute_edges() -> None:
    clock = Periods(Clock(5))
    five_minutes = clock.window(300, 1000)
    minutes = [clock.window(60, k) for k in range(5000, 5005)]
    assert (five_minutes.start, five_minutes.end) == (minutes[0].start, minutes[-1].end)


def test_windows_never_shrink_below_a_second() -> None:
    clock = Periods(Clock(1000))
    assert clock.width(60) == 1.0
    assert clock.width(300) == 1.0


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Periods(Clock(0))
