"""PutMetricData: what every publisher hands over, batched per namespace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DATUMS_PER_CALL = 1000  # PutMetricData's limit per request


@dataclass(frozen=True)
class Datum:
    """One metric value (or statistic set) as PutMetricData takes it."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    unit: str
    value: float | None = None
    statistics: Mapping[str, float] | None = None  # SampleCount, Sum, Minimum, Maximum
    timestamp: dt.datetime | None = field(default=None, compare=False)

    def request(self, timestamp: dt.datetime) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "MetricName": self.name,
            # Sorted by name: the emulator's matching must not depend on the order (see cloudwatch patches).
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())],
            "Timestamp": self.timestamp or timestamp,
            "Unit": self.unit,
        }
        if self.statistics is not None:
            entry["StatisticValues"] = dict(self.statistics)
        else:
            entry["Value"] = float(self.value or 0.0)
        return entry


class MetricSink:
    """Puts datums to CloudWatch (`cloudwatch` is a boto3 client), grouped by namespace."""

    def __init__(self, cloudwatch: Any) -> None:
        self.cloudwatch = cloudwatch

    def put(self, datums: Iterable[Datum], timestamp: dt.datetime) -> int:
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for datum in datums:
            by_namespace.setdefault(datum.namespace, []).append(datum.request(timestamp))
        sent = 0
        for namespace, entries in by_namespace.items():
            for start in range(0, len(entries), MAX_DATUMS_PER_CALL):
                chunk = entries[start : start + MAX_DATUMS_PER_CALL]
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                sent += len(chunk)
        return sent
