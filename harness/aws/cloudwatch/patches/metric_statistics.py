"""CloudWatch metric queries select the exact dimension set and compute percentiles.

AWS: a metric is identified by namespace, name and its *whole* set of dimensions, in any order.
``GetMetricStatistics`` and ``GetMetricData`` return the series whose dimensions equal the ones asked
for — asking for ``LoadBalancer=X`` does not add in the ``LoadBalancer=X,TargetGroup=Y`` series.
``GetMetricStatistics(ExtendedStatistics=["p99"])`` returns percentiles in each datapoint's
``ExtendedStatistics`` map, and ``GetMetricData`` accepts ``pNN`` as a ``Stat``.
Stock moto: GetMetricStatistics sums in every series whose dimensions *include* the ones asked for (the
load balancer's series plus each target group's), GetMetricData finds a multi-dimension series only
when the dimensions are given in an order its (broken) ``Dimension.__lt__`` happens to keep, and
percentiles come back empty (ExtendedStatistics is ignored, a ``pNN`` Stat has no value).

Percentiles here are nearest-rank over the raw values of the period; values published as statistic
sets (``StatisticValues``) carry no distribution, so a period holding only those has no percentile.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, SupportsFloat

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.cloudwatch.models import CloudWatchBackend, Dimension, MetricDatumBase, Statistics
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


def percentile(values: list[float], stat: str) -> float | None:
    """Nearest-rank percentile `stat` ("p99", "p99.9", ...) of `values`; None without values or for a
    name that is not a percentile."""
    match = PERCENTILE.match(stat)
    if match is None or not values:
        return None
    p = float(match.group(1))
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _dimension_key(dimensions: Any) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for d in dimensions or []:
        if isinstance(d, dict):
            pairs.add((str(d.get("Name")), str(d.get("Value"))))
        else:
            pairs.add((str(d.name), str(d.value)))
    return frozenset(pairs)


def get_metric_statistics(
    self: CloudWatchBackend,
    namespace: str,
    metric_name: str,
    start_time: datetime,
    end_time: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[Statistics]:
    """moto's implementation with the exact-dimension-set filter in place of the subset filter."""
    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import Statistics, daterange

    start_time = start_time.replace(microsecond=0)
    end_time = end_time.replace(microsecond=0)
    if start_time >= end_time:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    wanted = _dimension_key(dimensions)
    data: list[MetricDatumBase] = sorted(
        (
            md
            for md in self.get_all_metrics()
            if md.namespace == namespace
            and md.name == metric_name
            and start_time <= md.timestamp < end_time
            and (unit is None or md.unit == unit)
            and _dimension_key(md.dimensions) == wanted
        ),
        key=lambda md: md.timestamp,
    )
    if not data:
        return []
    step = timedelta(seconds=period)
    result: list[Statistics] = []
    index = 0
    for bucket_start in daterange(data[0].timestamp, data[-1].timestamp + step, step):
        bucket = Statistics(stats, bucket_start)
        while index < len(data) and data[index].timestamp < bucket_start + step:
            bucket.metric_data.append(data[index])
            bucket.unit = data[index].unit
            index += 1
        if bucket.metric_data:
            result.append(bucket)
    return result


def get_metric_statistics_response(self: CloudWatchResponse) -> ActionResult:
    from moto.cloudwatch.exceptions import InvalidParameterCombination
    from moto.core.responses import ActionResult

    statistics = self._get_param("Statistics", [])
    extended = self._get_param("ExtendedStatistics", [])
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if statistics and extended:
        raise InvalidParameterCombination("Cannot specify both Statistics and ExtendedStatistics")
    datapoints = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"),
        self._get_param("MetricName"),
        self._get_param("StartTime"),
        self._get_param("EndTime"),
        self._get_int_param("Period"),
        statistics,
        unit=self._get_param("Unit"),
        dimensions=self._get_param("Dimensions", []),
    )
    for datapoint in datapoints:
        if extended:
            values = datapoint.metric_single_values_list
            computed = {name: percentile(values, name) for name in extended}
            datapoint.extended_statistics = {k: v for k, v in computed.items() if v is not None}  # type: ignore[attr-defined]
    return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": datapoints})


def _apply() -> None:
    from moto.cloudwatch.models import CloudWatchBackend, Dimension, Statistics
    from moto.cloudwatch.responses import CloudWatchResponse

    if CloudWatchBackend.get_metric_statistics is get_metric_statistics:
        return

    def dimension_lt(self: Dimension, other: Dimension) -> bool:
        return (str(self.name), str(self.value)) < (str(other.name), str(other.value))

    original_stat = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Statistics, stat: str) -> SupportsFloat | None:
        if PERCENTILE.match(stat):
            return percentile(self.metric_single_values_list, stat)
        return original_stat(self, stat)

    Dimension.__lt__ = dimension_lt  # type: ignore[method-assign]
    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]
    CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_statistics = get_metric_statistics_response  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="cloudwatch-metric-statistics",
    summary="AWS selects a metric by its exact dimension set in GetMetricStatistics/GetMetricData and "
    "computes percentiles (ExtendedStatistics, pNN stats); stock moto sums every series that includes "
    "the dimensions, misses multi-dimension series given in some orders, and returns no percentiles.",
    apply=_apply,
)
