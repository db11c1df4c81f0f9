"""CloudWatch's alarm rules, pure: datapoints in, state and reason out."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.aws.cloudwatch.evaluation import Datapoint, Rule, State, UnsupportedAlarm, evaluate

T0 = dt.datetime(2026, 1, 2, 3, 4, 0, tzinfo=dt.UTC)
X, O, _ = 5.0, 0.0, None  # noqa: E741 - breaching, not breaching, missing (for `> 1`)


def points(*values: float | None, sample_count: float | None = None) -> list[Datapoint]:
    """One datapoint per minute, oldest first."""
    return [Datapoint(T0 + dt.timedelta(minutes=i), v, sample_count if v is not None else None)
            for i, v in enumerate(values)]


def rule(n: int = 1, m: int | None = None, missing: str | None = "missing", op: str = "GreaterThanThreshold",
         threshold: float = 1.0, **kwargs: object) -> Rule:
    return Rule(op, threshold, n, m, missing, statistic="Maximum", **kwargs)  # type: ignore[arg-type]


def state(r: Rule, values: list[Datapoint], current: str = "INSUFFICIENT_DATA") -> State | None:
    return evaluate(r, values, current, T0 + dt.timedelta(hours=1)).state


@pytest.mark.parametrize(
    ("op", "value", "breaches"),
    [
        ("GreaterThanThreshold", 2.0, True), ("GreaterThanThreshold", 1.0, False),
        ("GreaterThanOrEqualToThreshold", 1.0, True), ("GreaterThanOrEqualToThreshold", 0.5, False),
        ("LessThanThreshold", 0.5, True), ("LessThanThreshold", 1.0, False),
        ("LessThanOrEqualToThreshold", 1.0, True), ("LessThanOrEqualToThreshold", 1.5, False),
    ],
)
def test_each_comparison_operator(op: str, value: float, breaches: bool) -> None:
    r = rule(op=op)
    assert state(r, points(value)) is (State.ALARM if breaches else State.OK)


def test_the_n_most_recent_real_datapoints_decide_whatever_missing_data_says() -> None:
    for missing in ("missing", "ignore", "breaching", "notBreaching"):
        r = rule(n=3, missing=missing)
        assert state(r, points(X, X, X, _, _), "OK") is State.ALARM, missing  # 3 real in the range of 5
        assert state(r, points(O, X, _, X, X), "ALARM") is State.ALARM, missing  # the newest 3 real: X X X
        assert state(r, points(X, X, O, _, _), "ALARM") is State.OK, missing


@pytest.mark.parametrize(
    ("values", "m", "expected"),
    [
        ((O, O, X, O, X), 2, State.ALARM),  # the last 3: X O X
        ((X, X, O, O, X), 2, State.OK),  # O O X
        ((O, O, X, X, X), 3, State.ALARM),
        ((X, X, O, X, X), 3, State.OK),  # O X X
        ((O, O, O, O, X), 1, State.ALARM),
        ((X, X, X, O, O), 1, State.ALARM),  # X O O: one is enough
        ((X, X, O, O, O), 1, State.OK),
    ],
)
def test_m_out_of_n(values: tuple[float, ...], m: int, expected: State) -> None:
    result = evaluate(rule(n=3, m=m), points(*values), "INSUFFICIENT_DATA", T0)
    assert len(result.evaluated) == 3
    assert result.state is expected


@pytest.mark.parametrize(
    ("missing", "current", "expected"),
    [
        ("missing", "OK", State.INSUFFICIENT_DATA),
        ("missing", "ALARM", State.INSUFFICIENT_DATA),
        ("ignore", "OK", None),
        ("ignore", "ALARM", None),
        ("breaching", "OK", State.ALARM),
        ("notBreaching", "ALARM", State.OK),
        (None, "OK", State.INSUFFICIENT_DATA),  # TreatMissingData not set: missing
    ],
)
def test_no_data_at_all(missing: str | None, current: str, expected: State | None) -> None:
    assert state(rule(n=3, missing=missing), points(_, _, _, _, _), current) is expected


def test_missing_datapoints_fill_up_to_n_as_few_as_possible() -> None:
    # one real breaching datapoint, 2 of 3 needed, 2 missing filled in
    assert state(rule(n=3, m=2, missing="breaching"), points(_, _, _, _, X)) is State.ALARM
    assert state(rule(n=3, m=2, missing="notBreaching"), points(_, _, _, _, X)) is State.OK
    # missing treated as breaching, but the real datapoint is good and 3 of 3 are needed
    assert state(rule(n=3, m=3, missing="breaching"), points(_, _, _, _, O)) is State.OK
    assert state(rule(n=3, m=2, missing="breaching"), points(_, _, _, _, O)) is State.ALARM


def test_ignore_and_missing_decide_only_when_the_real_datapoints_do() -> None:
    for missing in ("ignore", "missing"):
        # a good datapoint makes 3 of 3 impossible: OK (AWS's table, IGNORE row 2)
        assert state(rule(n=3, missing=missing), points(_, _, _, _, O), "ALARM") is State.OK, missing
        # one breaching datapoint of 3 needed: undecided, the current state stays
        assert state(rule(n=3, missing=missing), points(_, _, X, _, _), "OK") is None, missing
        # 1 of 3 needed, and it breaches: ALARM
        assert state(rule(n=3, m=1, missing=missing), points(_, _, X, _, _), "OK") is State.ALARM, missing


def test_one_of_one_not_breaching_stays_in_alarm_until_the_breach_leaves_the_range() -> None:
    r = rule(n=1, missing="notBreaching")  # range of 3
    assert state(r, points(X, _, _), "ALARM") is State.ALARM
    assert state(r, points(_, _, _), "ALARM") is State.OK
    assert state(r, points(X, _, O), "ALARM") is State.OK  # a good value recovers at once


def test_low_sample_percentiles_keep_the_state_when_told_to_ignore() -> None:
    r = Rule("GreaterThanThreshold", 1.0, 1, treat_missing_data="notBreaching", extended_statistic="p99",
             evaluate_low_sample_count_percentile="ignore")
    assert evaluate(r, points(X, sample_count=10), "OK").state is None  # p99 needs 100 samples
    assert evaluate(r, points(X, sample_count=100), "OK").state is State.ALARM
    evaluating = Rule("GreaterThanThreshold", 1.0, 1, extended_statistic="p99",
                      evaluate_low_sample_count_percentile="evaluate")
    assert evaluate(evaluating, points(X, sample_count=1), "OK").state is State.ALARM


def test_reasons_read_like_aws() -> None:
    r = rule(n=1, missing="notBreaching", threshold=0.0)
    alarm = evaluate(r, [Datapoint(T0, 1.0, 1.0)], "OK", T0)
    assert alarm.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (02/01/26 03:04:00)] was greater than the "
        "threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    ok = evaluate(r, [Datapoint(T0, 0.0, 1.0)], "ALARM", T0)
    assert ok.reason.endswith(
        "was not greater than the threshold (0.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    idle = evaluate(r, points(_, _, _), "INSUFFICIENT_DATA", T0)
    assert idle.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching]."
    )
    unknown = evaluate(rule(n=2), points(_, _, _, _), "OK", T0)
    assert unknown.reason == "Insufficient Data: 2 datapoints were unknown."
    data = alarm.reason_data
    assert data["statistic"] == "Maximum" and data["period"] == 60 and data["threshold"] == 0.0
    assert data["recentDatapoints"] == [1.0]
    assert data["evaluatedDatapoints"] == [{"timestamp": "2026-01-02T03:04:00.000+0000", "sampleCount": 1.0,
                                           "value": 1.0}]


def test_from_describe_alarms() -> None:
    r = Rule.from_alarm({"AlarmName": "a", "ComparisonOperator": "LessThanThreshold", "Threshold": 1,
                         "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "breaching",
                         "Statistic": "Minimum", "Period": 60})
    assert (r.n, r.m, r.evaluation_range, r.missing_data.value) == (3, 2, 5, "breaching")
    with pytest.raises(UnsupportedAlarm):
        Rule.from_alarm({"AlarmName": "band", "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
                         "ThresholdMetricId": "ad1", "EvaluationPeriods": 1})
