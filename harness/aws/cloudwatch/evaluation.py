"""How CloudWatch decides a metric alarm's state from its datapoints (pure: no I/O, no clock).

The rules, as AWS documents them ("Alarm evaluation", "Configuring how CloudWatch alarms treat missing
data"):

* Each period gives one datapoint (the alarm's statistic over the period) or none (missing).
* CloudWatch looks at an *evaluation range* longer than Evaluation Periods (N): AWS's documented example
  retrieves 5 datapoints for a 3-of-3 alarm; here the range is N + 2 periods (``evaluation_range``).
* If the range holds at least N real datapoints, the N most recent real ones decide, whatever
  TreatMissingData says: ALARM when at least M (Datapoints to Alarm, default N) of them breach, else OK.
* Otherwise the real datapoints are topped up to N with as few missing ones as needed, and the missing
  ones count as TreatMissingData says: ``notBreaching`` good, ``breaching`` bad; ``ignore`` keeps the
  current state unless the real datapoints decide alone (M of them breach → ALARM; even if every missing
  one breached there could not be M → OK); ``missing`` does the same, except that a range with no real
  datapoint at all goes to INSUFFICIENT_DATA (the default when TreatMissingData is not set).
* Percentile alarms with ``EvaluateLowSampleCountPercentile = ignore`` keep their state while the newest
  datapoint has too few samples to be significant (fewer than 100 / min(p, 100 - p)).

A consequence AWS users know: a 1-of-1 alarm with ``notBreaching`` stays in ALARM until its breaching
datapoint falls out of the range (3 periods) when the metric stops being published, but recovers in one
period when the metric reports a good value.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

EXTRA_RANGE_PERIODS = 2
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class MissingData(StrEnum):
    MISSING = "missing"
    IGNORE = "ignore"
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


COMPARISONS: Mapping[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


class UnsupportedAlarm(ValueError):
    """An alarm this evaluator cannot judge (e.g. an anomaly-detection band)."""


@dataclass(frozen=True)
class Datapoint:
    """One period: its start, and the statistic's value (None when no data was published in it)."""

    timestamp: dt.datetime
    value: float | None
    sample_count: float | None = None

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Rule:
    """The parts of a metric alarm that decide its state."""

    comparison_operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    evaluate_low_sample_count_percentile: str | None = None
    period: int = 60
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.comparison_operator not in COMPARISONS:
            raise UnsupportedAlarm(f"comparison operator {self.comparison_operator} is not supported")
        if self.evaluation_periods < 1:
            raise UnsupportedAlarm("EvaluationPeriods must be at least 1")

    @classmethod
    def from_alarm(cls, alarm: Mapping[str, Any]) -> Rule:
        """From a DescribeAlarms MetricAlarm."""
        if "ThresholdMetricId" in alarm or "Threshold" not in alarm:
            raise UnsupportedAlarm(f"{alarm.get('AlarmName')}: alarms on an anomaly-detection band are not evaluated")
        return cls(
            comparison_operator=str(alarm["ComparisonOperator"]),
            threshold=float(alarm["Threshold"]),
            evaluation_periods=int(alarm["EvaluationPeriods"]),
            datapoints_to_alarm=int(alarm["DatapointsToAlarm"]) if alarm.get("DatapointsToAlarm") else None,
            treat_missing_data=alarm.get("TreatMissingData"),
            statistic=alarm.get("Statistic"),
            extended_statistic=alarm.get("ExtendedStatistic"),
            evaluate_low_sample_count_percentile=alarm.get("EvaluateLowSampleCountPercentile"),
            period=int(alarm.get("Period") or 60),
            unit=alarm.get("Unit"),
        )

    @property
    def n(self) -> int:
        return self.evaluation_periods

    @property
    def m(self) -> int:
        return min(self.datapoints_to_alarm or self.evaluation_periods, self.evaluation_periods)

    @property
    def missing_data(self) -> MissingData:
        try:
            return MissingData(self.treat_missing_data or "missing")
        except ValueError:
            return MissingData.MISSING

    @property
    def evaluation_range(self) -> int:
        return self.evaluation_periods + EXTRA_RANGE_PERIODS

    @property
    def statistic_name(self) -> str:
        return self.extended_statistic or self.statistic or "Average"

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison_operator][0](value, self.threshold)

    def low_sample(self, point: Datapoint) -> bool:
        """A percentile datapoint with too few samples to be significant (only with `ignore`)."""
        if self.evaluate_low_sample_count_percentile != "ignore" or not self.extended_statistic:
            return False
        match = PERCENTILE.match(self.extended_statistic)
        if match is None or point.sample_count is None:
            return False
        p = float(match.group(1))
        tail = min(p, 100.0 - p)
        return tail > 0 and point.sample_count < math.ceil(100.0 / tail)


@dataclass(frozen=True)
class Evaluation:
    """The state the datapoints call for (None: keep the current one), and why, in AWS's words."""

    state: State | None
    reason: str
    reason_data: dict[str, Any] = field(default_factory=dict)
    evaluated: tuple[Datapoint, ...] = ()

    def changes(self, current: str | None) -> bool:
        return self.state is not None and self.state.value != current


def _value_text(value: float) -> str:
    return repr(float(value))


def _point_text(point: Datapoint) -> str:
    assert point.value is not None
    return f"{_value_text(point.value)} ({point.timestamp.strftime('%d/%m/%y %H:%M:%S')})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _reason_data(rule: Rule, evaluated: Sequence[Datapoint], query_date: dt.datetime) -> dict[str, Any]:
    real = [p for p in evaluated if not p.missing]
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(query_date)}
    if evaluated:
        data["startDate"] = _iso(min(p.timestamp for p in evaluated))
    if rule.unit:
        data["unit"] = rule.unit
    if rule.extended_statistic:
        data["extendedStatistic"] = rule.extended_statistic
    else:
        data["statistic"] = rule.statistic_name
    data["period"] = rule.period
    data["recentDatapoints"] = [p.value for p in real]
    data["threshold"] = float(rule.threshold)
    points = []
    for p in sorted(evaluated, key=lambda p: p.timestamp, reverse=True):
        entry: dict[str, Any] = {"timestamp": _iso(p.timestamp)}
        if p.sample_count is not None:
            entry["sampleCount"] = p.sample_count
        if p.value is not None:
            entry["value"] = p.value
        points.append(entry)
    data["evaluatedDatapoints"] = points
    return data


def _threshold_reason(
    rule: Rule, state: State, current: str | None, evaluated: Sequence[Datapoint], filled: int, filled_as: str
) -> str:
    relation = COMPARISONS[rule.comparison_operator][1]
    real = sorted((p for p in evaluated if not p.missing), key=lambda p: p.timestamp, reverse=True)
    if state is State.ALARM:
        shown = [p for p in real if p.value is not None and rule.breaches(p.value)]
        verb, needed = relation, rule.m
    else:
        shown = [p for p in real if p.value is not None and not rule.breaches(p.value)]
        verb, needed = f"not {relation}", rule.n - rule.m + 1
    old = current or State.INSUFFICIENT_DATA.value
    transition = f"(minimum {_plural(needed, 'datapoint')} for {old} -> {state.value} transition)"
    if not real:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(filled, 'period')} and "
            f"{_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} treated as [{filled_as}]."
        )
    head = (
        f"Threshold Crossed: {len(shown)} out of the last {len(real)} datapoints "
        f"[{', '.join(_point_text(p) for p in shown)}] {'was' if len(shown) == 1 else 'were'} {verb} "
        f"the threshold ({_value_text(rule.threshold)})"
    )
    if filled:
        head += (
            f", and {_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} "
            f"treated as [{filled_as}]"
        )
    return f"{head} {transition}."


def evaluate(
    rule: Rule,
    datapoints: Sequence[Datapoint],
    current: str | None,
    query_date: dt.datetime | None = None,
) -> Evaluation:
    """The state `datapoints` (the evaluation range, one per period, any order) call for.

    `current` is the alarm's state now; `ignore`, `missing` and low-sample percentiles may keep it.
    """
    query_date = query_date or dt.datetime.now(dt.UTC)
    ordered = sorted(datapoints, key=lambda p: p.timestamp)
    real = [p for p in ordered if not p.missing]
    n, m = rule.n, rule.m

    if real and rule.low_sample(real[-1]):
        return Evaluation(
            None,
            f"Low sample count: the newest datapoint has {real[-1].sample_count} samples, too few for "
            f"{rule.extended_statistic}; EvaluateLowSampleCountPercentile is ignore.",
            _reason_data(rule, real[-n:], query_date),
            tuple(real[-n:]),
        )

    if len(real) >= n:
        evaluated = real[-n:]
        breaching = sum(1 for p in evaluated if p.value is not None and rule.breaches(p.value))
        state = State.ALARM if breaching >= m else State.OK
        return Evaluation(
            state,
            _threshold_reason(rule, state, current, evaluated, 0, ""),
            _reason_data(rule, evaluated, query_date),
            tuple(evaluated),
        )

    # Fewer than N real datapoints: fill in as few missing ones as needed, the most recent first.
    filled = n - len(real)
    missing_slots = [p for p in ordered if p.missing][-filled:]
    if len(missing_slots) < filled:  # a range shorter than N (should not happen): pad with synthetic gaps
        pad = filled - len(missing_slots)
        anchor = ordered[0].timestamp if ordered else query_date
        missing_slots = [Datapoint(anchor - dt.timedelta(seconds=rule.period * (i + 1)), None)
                         for i in range(pad)] + missing_slots
    evaluated = sorted([*real, *missing_slots], key=lambda p: p.timestamp)
    breaching_real = sum(1 for p in real if p.value is not None and rule.breaches(p.value))
    data = _reason_data(rule, evaluated, query_date)
    treatment = rule.missing_data

    if treatment is MissingData.NOT_BREACHING:
        state = State.ALARM if breaching_real >= m else State.OK
        return Evaluation(state, _threshold_reason(rule, state, current, evaluated, filled, "NonBreaching"),
                          data, tuple(evaluated))
    if treatment is MissingData.BREACHING:
        state = State.ALARM if breaching_real + filled >= m else State.OK
        return Evaluation(state, _threshold_reason(rule, state, current, evaluated, filled, "Breaching"),
                          data, tuple(evaluated))
    if treatment is MissingData.MISSING and not real:
        return Evaluation(
            State.INSUFFICIENT_DATA,
            f"Insufficient Data: {_plural(filled, 'datapoint')} {'was' if filled == 1 else 'were'} unknown.",
            data,
            tuple(evaluated),
        )
    # ignore, or missing with some real data: decide only when the real datapoints decide alone.
    if breaching_real >= m:
        state = State.ALARM
    elif breaching_real + filled < m:
        state = State.OK
    else:
        return Evaluation(
            None,
            f"Keeping the current state: {_plural(len(real), 'datapoint')} received and "
            f"{_plural(filled, 'missing datapoint')} with TreatMissingData {treatment.value}.",
            data,
            tuple(evaluated),
        )
    label = "Ignored" if treatment is MissingData.IGNORE else "Missing"
    return Evaluation(state, _threshold_reason(rule, state, current, evaluated, filled, label), data, tuple(evaluated))
