"""AWS/ApplicationELB metrics from the ALB data plane's counters.

``metrics_snapshot(reset=True)`` hands over what happened since the previous call, so each collection
publishes one period's worth. Like ELB, counters are published only when non-zero ("no requests, no
datapoint" — which is why the 5xx alarms treat missing data as not breaching); TargetResponseTime as a
statistic set; HealthyHostCount / UnHealthyHostCount every time, per (TargetGroup, LoadBalancer).
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.aws.cloudwatch.sink import Datum

NAMESPACE = "AWS/ApplicationELB"


class AlbMetricsSource(Protocol):
    def metrics_snapshot(self, reset: bool = False) -> dict[str, Any]: ...


def _response_time(series: dict[str, Any]) -> dict[str, float] | None:
    stats = series.get("TargetResponseTime") or {}
    count = stats.get("SampleCount") or 0
    if not count:
        return None
    return {
        "SampleCount": float(count),
        "Sum": float(stats.get("Sum") or 0.0),
        "Minimum": float(stats.get("Minimum") or 0.0),
        "Maximum": float(stats.get("Maximum") or 0.0),
    }


class AlbMetrics:
    name = "alb"

    def __init__(self, alb: AlbMetricsSource) -> None:
        self.alb = alb

    def discard(self) -> None:
        """Forget what was counted so far (before the first period this source publishes)."""
        self.alb.metrics_snapshot(reset=True)

    def collect(self) -> list[Datum]:
        snapshot = self.alb.metrics_snapshot(reset=True)
        namespace = str(snapshot.get("namespace") or NAMESPACE)
        datums: list[Datum] = []
        for series in [*snapshot.get("load_balancers", []), *snapshot.get("target_groups", [])]:
            dimensions = dict(series["dimensions"])
            for name, count in series.get("counters", {}).items():
                if count:
                    datums.append(Datum(namespace, name, dimensions, "Count", float(count)))
            response_time = _response_time(series)
            if response_time is not None:
                datums.append(Datum(namespace, "TargetResponseTime", dimensions, "Seconds",
                                    statistics=response_time))
            for gauge in ("HealthyHostCount", "UnHealthyHostCount"):
                if gauge in series:
                    datums.append(Datum(namespace, gauge, dimensions, "Count", float(series[gauge])))
        return datums
