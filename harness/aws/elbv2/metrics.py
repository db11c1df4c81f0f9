"""CloudWatch-style counters of the data plane, per load balancer and per (target group, load balancer).

Cumulative since `period_start`; `snapshot(reset=True)` returns the counts and starts a new period,
so a publisher can either diff cumulative values or take deltas. Metric names are AWS's
(namespace AWS/ApplicationELB); dimension values are the ARN suffixes AWS uses.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

MAX_SAMPLES = 10_000

LB_COUNTERS = (
    "RequestCount",
    "HTTPCode_ELB_3XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HTTP_Redirect_Count",
    "HTTP_Fixed_Response_Count",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "TargetConnectionErrorCount",
)
TG_COUNTERS = (
    "RequestCount",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "TargetConnectionErrorCount",
)


@dataclass
class _Series:
    counters: Counter[str] = field(default_factory=Counter)
    response_times: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    rt_count: int = 0
    rt_sum: float = 0.0
    rt_min: float | None = None
    rt_max: float | None = None

    def add_response_time(self, at: float, seconds: float) -> None:
        self.response_times.append((at, seconds))
        self.rt_count += 1
        self.rt_sum += seconds
        self.rt_min = seconds if self.rt_min is None else min(self.rt_min, seconds)
        self.rt_max = seconds if self.rt_max is None else max(self.rt_max, seconds)

    def response_time_json(self) -> dict[str, Any]:
        return {
            "SampleCount": self.rt_count,
            "Sum": self.rt_sum,
            "Minimum": self.rt_min,
            "Maximum": self.rt_max,
            "samples": [{"timestamp": at, "value": value} for at, value in self.response_times],
        }


def _dimension(arn: str, marker: str) -> str:
    return arn.split(marker, 1)[-1] if marker in arn else arn


def lb_dimension(lb_arn: str) -> str:
    return _dimension(lb_arn, ":loadbalancer/")


def tg_dimension(tg_arn: str) -> str:
    return "targetgroup/" + _dimension(tg_arn, ":targetgroup/")


class MetricsRecorder:
    """Thread-safe counters; the request path calls `count`/`response_time`, readers call `snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._period_start = time.time()
        self._lbs: dict[str, _Series] = {}
        self._tgs: dict[tuple[str, str], _Series] = {}

    def count(self, lb_arn: str, metric: str, tg_arn: str | None = None, amount: int = 1) -> None:
        with self._lock:
            self._lbs.setdefault(lb_arn, _Series()).counters[metric] += amount
            if tg_arn is not None:
                self._tgs.setdefault((tg_arn, lb_arn), _Series()).counters[metric] += amount

    def count_target_group(self, lb_arn: str, tg_arn: str, metric: str, amount: int = 1) -> None:
        """A counter kept only per target group (e.g. the requests routed to it)."""
        with self._lock:
            self._tgs.setdefault((tg_arn, lb_arn), _Series()).counters[metric] += amount

    def response_time(self, lb_arn: str, tg_arn: str, seconds: float) -> None:
        now = time.time()
        with self._lock:
            self._lbs.setdefault(lb_arn, _Series()).add_response_time(now, seconds)
            self._tgs.setdefault((tg_arn, lb_arn), _Series()).add_response_time(now, seconds)

    def snapshot(
        self,
        reset: bool = False,
        known: list[tuple[str, str]] | None = None,
        host_counts: dict[str, tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        """Plain JSON-able metrics.

        known: (tg arn, lb arn) pairs to list even without traffic; host_counts: tg arn ->
        (healthy, unhealthy) gauges, reported as HealthyHostCount / UnHealthyHostCount.
        """
        now = time.time()
        host_counts = host_counts or {}
        with self._lock:
            lbs, tgs, start = self._lbs, self._tgs, self._period_start
            if reset:
                self._lbs, self._tgs, self._period_start = {}, {}, now
        pairs = dict.fromkeys([*(known or []), *tgs])
        lb_arns = dict.fromkeys([*(lb for _, lb in pairs), *lbs])
        return {
            "namespace": "AWS/ApplicationELB",
            "period_start": start,
            "timestamp": now,
            "load_balancers": [
                {
                    "arn": lb_arn,
                    "dimensions": {"LoadBalancer": lb_dimension(lb_arn)},
                    "counters": {name: lbs.get(lb_arn, _Series()).counters[name] for name in LB_COUNTERS},
                    "TargetResponseTime": lbs.get(lb_arn, _Series()).response_time_json(),
                }
                for lb_arn in lb_arns
            ],
            "target_groups": [
                {
                    "arn": tg_arn,
                    "load_balancer_arn": lb_arn,
                    "dimensions": {"TargetGroup": tg_dimension(tg_arn), "LoadBalancer": lb_dimension(lb_arn)},
                    "counters": {name: tgs.get((tg_arn, lb_arn), _Series()).counters[name] for name in TG_COUNTERS},
                    "TargetResponseTime": tgs.get((tg_arn, lb_arn), _Series()).response_time_json(),
                    "HealthyHostCount": host_counts.get(tg_arn, (0, 0))[0],
                    "UnHealthyHostCount": host_counts.get(tg_arn, (0, 0))[1],
                }
                for tg_arn, lb_arn in pairs
            ],
        }
