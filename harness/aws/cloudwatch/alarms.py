"""The alarm evaluator: reads every metric alarm and its datapoints from the emulator, decides its state
the way CloudWatch does (``harness.aws.cloudwatch.evaluation``), sets it with SetAlarmState and notifies the
alarm's SNS actions.

Each alarm is evaluated once per (scaled) period, when a new window of its period has ended. The
datapoints of its evaluation range come from GetMetricData, one call per window for all alarms of that
period: the window's real edges as StartTime/EndTime, and a query Period at least as long as the window,
so each query yields exactly that window's statistic (or nothing: a missing datapoint).

Windows that began before the emulation started publishing are not judged (their data was never
published); an alarm is first evaluated once N windows of its period lie after that point.

A state someone else set (SetAlarmState, as operators do to test their paging) is noticed on the next
pass and notified like AWS does; the next evaluation then sets the state the data calls for.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.aws.cloudwatch.evaluation import Datapoint, Evaluation, Rule, UnsupportedAlarm, evaluate
from harness.aws.cloudwatch.notifications import Notifier, alarm_message
from harness.aws.cloudwatch.periods import Periods, Window

log = logging.getLogger("harness.aws.cloudwatch.alarms")

MAX_QUERIES_PER_CALL = 500


@dataclass
class Transition:
    alarm_name: str
    old_state: str
    new_state: str
    reason: str
    at: dt.datetime
    source: str = "evaluation"  # or "SetAlarmState" for a change someone else made
    skipped_actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm_name,
            "old": self.old_state,
            "new": self.new_state,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "source": self.source,
            "skipped_actions": self.skipped_actions,
        }


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def alarm_period(alarm: Mapping[str, Any]) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    for query in alarm.get("Metrics", []):
        if query.get("ReturnData", True):
            return int(query.get("Period") or query.get("MetricStat", {}).get("Period") or 60)
    return 60


def metric_queries(
    alarm: Mapping[str, Any], query_period: int, prefix: str
) -> tuple[list[dict[str, Any]], str, str | None]:
    """GetMetricData queries for `alarm` over one window; the ids of its value and sample-count series."""
    if alarm.get("Metrics"):
        queries = []
        value_id = ""
        for query in alarm["Metrics"]:
            copy = {k: v for k, v in query.items() if k not in ("AccountId",)}
            if "MetricStat" in copy:
                copy["MetricStat"] = {**copy["MetricStat"], "Period": query_period}
            if copy.get("ReturnData", True):
                value_id = str(copy["Id"])
            queries.append(copy)
        return queries, value_id, None
    metric = {
        "Namespace": alarm["Namespace"],
        "MetricName": alarm["MetricName"],
        "Dimensions": sorted(
            ({"Name": d["Name"], "Value": d["Value"]} for d in alarm.get("Dimensions", [])), key=lambda d: d["Name"]
        ),
    }
    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    value: dict[str, Any] = {"Metric": metric, "Period": query_period, "Stat": stat}
    count: dict[str, Any] = {"Metric": metric, "Period": query_period, "Stat": "SampleCount"}
    if alarm.get("Unit"):
        value["Unit"] = count["Unit"] = alarm["Unit"]
    return (
        [
            {"Id": f"{prefix}v", "MetricStat": value, "ReturnData": True},
            {"Id": f"{prefix}n", "MetricStat": count, "ReturnData": True},
        ],
        f"{prefix}v",
        f"{prefix}n",
    )


class AlarmEvaluator:
    def __init__(self, cloudwatch: Any, windows: Periods, notifier: Notifier | None, region: str) -> None:
        self.cloudwatch = cloudwatch
        self.windows = windows
        self.notifier = notifier
        self.region = region
        self.history_start: float | None = None  # epoch: no datapoints were published before this
        self.transitions: list[Transition] = []
        self.unsupported: dict[str, str] = {}
        self.skipped_actions: list[str] = []
        self.states: dict[str, dict[str, Any]] = {}
        self.periods: set[int] = set()  # the periods of the alarms last seen, for the caller's wake-ups
        self._seen: dict[str, str] = {}
        self._evaluated: dict[str, int] = {}

    # -- reading ---------------------------------------------------------------------------------
    def alarms(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            found.extend(page.get("MetricAlarms", []))
        return found

    def _windows(self, rule: Rule, period: int, now: float) -> list[Window] | None:
        """The alarm's evaluation range, oldest first; None when fewer than N windows have data behind them."""
        windows = self.windows.recent(period, rule.evaluation_range, now)
        if self.history_start is not None:
            windows = [w for w in windows if w.start >= self.history_start]
        return windows if len(windows) >= rule.n else None

    def _fetch(self, window: Window, queries: list[dict[str, Any]]) -> dict[str, tuple[float | None, ...]]:
        values: dict[str, tuple[float | None, ...]] = {}
        for start in range(0, len(queries), MAX_QUERIES_PER_CALL):
            response = self.cloudwatch.get_metric_data(
                MetricDataQueries=queries[start : start + MAX_QUERIES_PER_CALL],
                StartTime=_utc(window.start),
                EndTime=_utc(window.end),
                ScanBy="TimestampAscending",
            )
            for result in response.get("MetricDataResults", []):
                values[str(result["Id"])] = tuple(result.get("Values", []))
        return values

    @staticmethod
    def _first(values: tuple[float | None, ...] | None) -> float | None:
        for value in values or ():
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                return float(value)
        return None

    def datapoints(self, due: list[tuple[dict[str, Any], Rule, list[Window]]]) -> dict[str, list[Datapoint]]:
        """Each due alarm's datapoints: one GetMetricData call per distinct window (per math alarm)."""
        plans: dict[Window, list[tuple[str, list[dict[str, Any]], str, str | None]]] = {}
        shared: dict[Window, list[dict[str, Any]]] = {}
        for i, (alarm, _rule, windows) in enumerate(due):
            for window in windows:
                query_period = max(int(alarm_period(alarm)), math.ceil(window.seconds))
                queries, value_id, count_id = metric_queries(alarm, query_period, f"a{i}")
                plans.setdefault(window, []).append((alarm["AlarmName"], queries, value_id, count_id))
                if not alarm.get("Metrics"):
                    shared.setdefault(window, []).extend(queries)
        points: dict[str, list[Datapoint]] = {alarm["AlarmName"]: [] for alarm, _, _ in due}
        for window, entries in plans.items():
            values = self._fetch(window, shared[window]) if shared.get(window) else {}
            for name, queries, value_id, count_id in entries:
                found = values if count_id is not None else self._fetch(window, queries)
                points[name].append(
                    Datapoint(
                        _utc(window.start),
                        self._first(found.get(value_id)),
                        self._first(found.get(count_id)) if count_id else None,
                    )
                )
        return points

    # -- acting ----------------------------------------------------------------------------------
    def _transition(self, alarm: Mapping[str, Any], old: str, new: str, reason: str, at: dt.datetime,
                    source: str) -> Transition:
        transition = Transition(str(alarm["AlarmName"]), old, new, reason, at, source)
        if self.notifier is not None:
            message = alarm_message(alarm, old, new, reason, at, self.region)
            transition.skipped_actions = self.notifier.notify(alarm, message, new)
            for action in transition.skipped_actions:
                if action not in self.skipped_actions:
                    self.skipped_actions = [*self.skipped_actions, action]
                    log.info("alarm %s: action %s is not performed by the local cloud (only SNS topics are)",
                             alarm["AlarmName"], action)
        self.transitions.append(transition)
        del self.transitions[:-200]
        log.info("alarm %s: %s -> %s (%s): %s", alarm["AlarmName"], old, new, source, reason)
        return transition

    def _apply(self, alarm: dict[str, Any], result: Evaluation, now: float) -> Transition | None:
        name = str(alarm["AlarmName"])
        current = str(alarm.get("StateValue"))
        if not result.changes(current):
            return None
        assert result.state is not None
        self.cloudwatch.set_alarm_state(
            AlarmName=name,
            StateValue=result.state.value,
            StateReason=result.reason[:1023],
            StateReasonData=json.dumps(result.reason_data, separators=(",", ":")),
        )
        self._seen[name] = result.state.value
        alarm["StateValue"] = result.state.value
        return self._transition(alarm, current, result.state.value, result.reason, _utc(now), "evaluation")

    def evaluate(self, now: float | None = None) -> list[Transition]:
        """One pass: notice outside state changes, evaluate every alarm a new window has ended for."""
        now = self.windows.now() if now is None else now
        alarms = self.alarms()
        changes: list[Transition] = []
        names = {str(a["AlarmName"]) for a in alarms}
        self.periods = {alarm_period(a) for a in alarms}
        # Readers (snapshot) run in other threads: build new containers, then swap them in.
        states = {name: state for name, state in self.states.items() if name in names}
        unsupported: dict[str, str] = {}
        for gone in set(self._seen) - names:
            self._seen.pop(gone, None)
            self._evaluated.pop(gone, None)
        due: list[tuple[dict[str, Any], Rule, list[Window]]] = []
        for alarm in alarms:
            name, state = str(alarm["AlarmName"]), str(alarm.get("StateValue"))
            seen = self._seen.get(name)
            if seen is not None and seen != state:
                reason = str(alarm.get("StateReason") or "")
                changes.append(self._transition(alarm, seen, state, reason, _utc(now), "SetAlarmState"))
            self._seen[name] = state
            try:
                rule = Rule.from_alarm(alarm)
            except (UnsupportedAlarm, KeyError, TypeError, ValueError) as exc:
                unsupported[name] = str(exc)
                continue
            period = alarm_period(alarm)
            last = self.windows.last_complete(period, now)
            if self._evaluated.get(name) == last.index:
                continue
            windows = self._windows(rule, period, now)
            if windows is None:
                continue
            due.append((alarm, rule, windows))
        self.unsupported = unsupported
        if not due:
            self.states = states
            return changes
        points = self.datapoints(due)
        for alarm, rule, windows in due:
            name = str(alarm["AlarmName"])
            result = evaluate(rule, points[name], str(alarm.get("StateValue")), _utc(now))
            self._evaluated[name] = windows[-1].index
            transition = self._apply(alarm, result, now)
            if transition is not None:
                changes.append(transition)
            states[name] = {
                "state": alarm.get("StateValue"),
                "reason": result.reason,
                "window": [_utc(windows[-1].start).isoformat(), _utc(windows[-1].end).isoformat()],
                "datapoints": [p.value for p in sorted(points[name], key=lambda p: p.timestamp)],
            }
        self.states = states
        return changes

    def recent(self, limit: int = 20) -> Iterable[dict[str, Any]]:
        return [t.to_json() for t in self.transitions[-limit:]]
