"""CloudWatch DescribeAlarmHistory, with a StateUpdate item for every state change.

AWS: every alarm state transition — found by CloudWatch's own evaluation or set with ``SetAlarmState`` —
adds a ``StateUpdate`` history item (summary ``Alarm updated from OK to ALARM``, HistoryData JSON with the
old and new ``stateValue``/``stateReason``/``stateReasonData``); creating, updating and deleting an alarm
add ``ConfigurationUpdate`` items (``Alarm "name" created``/``updated``/``deleted``).
``DescribeAlarmHistory`` (AlarmName, AlarmTypes, HistoryItemType, StartDate, EndDate, ScanBy, MaxRecords,
NextToken) returns them newest first by default, also for alarms since deleted.
``DescribeAlarms`` reports ``StateTransitionedTimestamp``, the time the state value last changed.
Stock moto: ``DescribeAlarmHistory`` is not implemented (HTTP 500) and ``StateTransitionedTimestamp`` is
never reported.

The history is kept on the region's backend (a moto reset clears it); ``Action`` items (what the evaluator
did with the actions) are not recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.cloudwatch.models import Alarm, CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

HISTORY = "_harness_alarm_history"
MAX_RECORDS = 100
ITEM_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
              "AlarmContributorAction")
_lock = threading.Lock()


def _history(backend: CloudWatchBackend) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = backend.__dict__.setdefault(HISTORY, [])
    return items


def _backend_of(alarm: Alarm) -> CloudWatchBackend:
    from moto.cloudwatch.models import cloudwatch_backends

    _, _, _, region, account, _ = alarm.alarm_arn.split(":", 5)
    return cloudwatch_backends[account][region]


def _alarm_type(alarm: Alarm) -> str:
    return "CompositeAlarm" if getattr(alarm, "rule", None) is not None else "MetricAlarm"


def _json_or_none(text: Any) -> Any:
    if not text:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value or None


def _state(value: str, reason: str | None, reason_data: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"stateValue": value, "stateReason": reason or ""}
    data = _json_or_none(reason_data)
    if data is not None:
        state["stateReasonData"] = data
    return state


def _configuration(alarm: Alarm) -> dict[str, Any]:
    """The alarm as AWS writes it into ConfigurationUpdate HistoryData (camelCase, AWS's key spellings)."""
    config: dict[str, Any] = {
        "alarmName": alarm.name,
        "alarmArn": alarm.alarm_arn,
        "actionsEnabled": bool(alarm.actions_enabled),
        "alarmActions": list(alarm.alarm_actions or []),
        "oKActions": list(alarm.ok_actions or []),
        "insufficientDataActions": list(alarm.insufficient_data_actions or []),
    }
    if alarm.description:
        config["alarmDescription"] = alarm.description
    if getattr(alarm, "rule", None) is not None:
        config["alarmRule"] = alarm.rule
        return config
    optional = {
        "namespace": alarm.namespace,
        "metricName": alarm.metric_name,
        "statistic": alarm.statistic,
        "extendedStatistic": alarm.extended_statistic,
        "period": int(alarm.period) if alarm.period is not None else None,
        "evaluationPeriods": int(alarm.evaluation_periods) if alarm.evaluation_periods is not None else None,
        "datapointsToAlarm": int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm is not None else None,
        "threshold": float(alarm.threshold) if alarm.threshold is not None else None,
        "comparisonOperator": alarm.comparison_operator,
        "treatMissingData": alarm.treat_missing_data,
        "evaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
        "unit": alarm.unit,
    }
    config.update({key: value for key, value in optional.items() if value is not None})
    config["dimensions"] = [{"name": d.name, "value": d.value} for d in alarm.dimensions]
    config["metrics"] = []
    return config


def record(backend: CloudWatchBackend, alarm: Alarm, item_type: str, summary: str, data: dict[str, Any],
           timestamp: dt.datetime | None = None) -> None:
    item = {
        "AlarmName": alarm.name,
        "AlarmType": _alarm_type(alarm),
        "Timestamp": _aware_utc(timestamp) or dt.datetime.now(dt.UTC),
        "HistoryItemType": item_type,
        "HistorySummary": summary,
        "HistoryData": json.dumps(data, separators=(",", ":")),
    }
    with _lock:
        _history(backend).append(item)


def _parse_token(token: str | None) -> int:
    from moto.cloudwatch.exceptions import InvalidParameterValue

    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterValue("The service cannot complete the request: invalid NextToken") from None
    return offset


def _aware_utc(value: Any) -> dt.datetime | None:
    """`value` as an aware UTC datetime (moto keeps naive UTC datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
    from moto.core.responses import ActionResult

    name = self._get_param("AlarmName")
    alarm_types = self._get_param("AlarmTypes") or ["MetricAlarm"]
    item_type = self._get_param("HistoryItemType")
    start = _aware_utc(self._get_param("StartDate"))
    end = _aware_utc(self._get_param("EndDate"))
    scan_by = self._get_param("ScanBy") or "TimestampDescending"
    max_records = int(self._get_param("MaxRecords") or MAX_RECORDS)
    if item_type is not None and item_type not in ITEM_TYPES:
        raise ValidationError(
            f"1 validation error detected: Value '{item_type}' at 'historyItemType' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(ITEM_TYPES)}]"
        )
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise ValidationError(
            f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy constraint: "
            "Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
        )
    if not 1 <= max_records <= MAX_RECORDS:
        raise InvalidParameterValue(f"The value {max_records} for parameter MaxRecords is not in range 1-100.")
    with _lock:
        items = list(_history(self.cloudwatch_backend))
    items = [
        item
        for item in items
        if (name is None or item["AlarmName"] == name)
        and item["AlarmType"] in alarm_types
        and (item_type is None or item["HistoryItemType"] == item_type)
        and (start is None or item["Timestamp"] >= start)
        and (end is None or item["Timestamp"] <= end)
    ]
    # Stable: items recorded in the same instant keep their recording order (reversed when descending).
    items = sorted(items, key=lambda item: item["Timestamp"])
    if scan_by == "TimestampDescending":
        items.reverse()
    offset = _parse_token(self._get_param("NextToken"))
    page = items[offset : offset + max_records]
    result: dict[str, Any] = {"AlarmHistoryItems": page}
    if offset + max_records < len(items):
        result["NextToken"] = base64.urlsafe_b64encode(str(offset + max_records).encode()).decode()
    return ActionResult(result)


def _apply() -> None:
    from moto.cloudwatch.models import Alarm, CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    if getattr(CloudWatchResponse, "describe_alarm_history", None) is describe_alarm_history:
        return

    original_update_state = Alarm.update_state

    def update_state(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        old_value, old_reason, old_data = self.state_value, self.state_reason, self.state_reason_data
        original_update_state(self, reason, reason_data, state_value)
        if old_value == state_value:
            return
        self.state_transitioned_timestamp = self.state_updated_timestamp  # type: ignore[attr-defined]
        record(
            _backend_of(self),
            self,
            "StateUpdate",
            f"Alarm updated from {old_value} to {state_value}",
            {
                "version": "1.0",
                "oldState": _state(old_value, old_reason, old_data),
                "newState": _state(state_value, reason, reason_data),
            },
            timestamp=self.state_updated_timestamp,
        )

    original_put = CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        name = kwargs.get("name", args[0] if args else None)
        existing = self.alarms.get(name) if isinstance(name, str) else None
        alarm = original_put(self, *args, **kwargs)
        if not hasattr(alarm, "state_transitioned_timestamp"):
            alarm.state_transitioned_timestamp = alarm.state_updated_timestamp  # type: ignore[attr-defined]
        if existing is None:
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" created',
                   {"type": "Create", "version": "1.0", "createdAlarm": _configuration(alarm)})
        else:
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" updated',
                   {"type": "Update", "version": "1.0", "updatedAlarm": _configuration(alarm),
                    "originalUpdatedFields": _configuration(existing)})
        return alarm

    original_delete = CloudWatchBackend.delete_alarms

    def delete_alarms(self: CloudWatchBackend, alarm_names: list[str]) -> None:
        deleted = [self.alarms[name] for name in alarm_names if name in self.alarms]
        original_delete(self, alarm_names)
        for alarm in deleted:
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" deleted',
                   {"type": "Delete", "version": "1.0", "deletedAlarm": _configuration(alarm)})

    Alarm.update_state = update_state  # type: ignore[method-assign]
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]
    CloudWatchBackend.delete_alarms = delete_alarms  # type: ignore[method-assign]
    CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]


PATCH = FidelityPatch(
    name="cloudwatch-alarm-history",
    summary="AWS records a StateUpdate history item on every alarm state change (SetAlarmState included) and "
    "ConfigurationUpdate items, served by DescribeAlarmHistory; stock moto does not implement "
    "DescribeAlarmHistory (HTTP 500).",
    apply=_apply,
)
