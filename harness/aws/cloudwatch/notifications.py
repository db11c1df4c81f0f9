"""The SNS message CloudWatch publishes to an alarm's actions when its state changes.

Shape (as received by subscribers of real alarms; keys in AWS's order): AlarmName, AlarmDescription (null
when none), AWSAccountId, AlarmConfigurationUpdatedTimestamp, NewStateValue, NewStateReason,
StateChangeTime, Region (the long name, "US East (N. Virginia)"), AlarmArn, OldStateValue, OKActions,
AlarmActions, InsufficientDataActions and Trigger {MetricName, Namespace, StatisticType ("Statistic" or
"ExtendedStatistic"), Statistic (upper case, e.g. "MAXIMUM") or ExtendedStatistic ("p99"), Unit (null when
none), Dimensions [{value, name}], Period, EvaluationPeriods, DatapointsToAlarm, ComparisonOperator,
Threshold, TreatMissingData, EvaluateLowSampleCountPercentile ("" when not set)}. Times look like
``2022-08-26T03:46:29.897+0000``. The Subject is ``ALARM: "name" in US East (N. Virginia)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from typing import Any

from harness.core.clients import AwsClients

SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def aws_time(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@functools.cache
def region_name(region: str) -> str:
    """AWS's long region name ("US East (N. Virginia)") from botocore's endpoint data."""
    import botocore.session

    for partition in botocore.session.get_session().get_data("endpoints").get("partitions", []):
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return str(described["description"])
    return region


def _account(alarm_arn: str) -> str:
    parts = alarm_arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _trigger(alarm: Mapping[str, Any]) -> dict[str, Any]:
    trigger: dict[str, Any] = {}
    if alarm.get("Metrics"):
        trigger["Metrics"] = alarm["Metrics"]
    else:
        trigger["MetricName"] = alarm.get("MetricName")
        trigger["Namespace"] = alarm.get("Namespace")
        if alarm.get("ExtendedStatistic"):
            trigger["StatisticType"] = "ExtendedStatistic"
            trigger["ExtendedStatistic"] = alarm["ExtendedStatistic"]
        else:
            trigger["StatisticType"] = "Statistic"
            trigger["Statistic"] = str(alarm.get("Statistic") or "").upper()
        trigger["Unit"] = alarm.get("Unit")
        trigger["Dimensions"] = [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])]
        trigger["Period"] = int(alarm.get("Period") or 0)
    periods = int(alarm.get("EvaluationPeriods") or 1)
    trigger["EvaluationPeriods"] = periods
    trigger["DatapointsToAlarm"] = int(alarm.get("DatapointsToAlarm") or periods)
    trigger["ComparisonOperator"] = alarm.get("ComparisonOperator")
    trigger["Threshold"] = float(alarm["Threshold"]) if alarm.get("Threshold") is not None else None
    trigger["TreatMissingData"] = alarm.get("TreatMissingData") or ""
    trigger["EvaluateLowSampleCountPercentile"] = alarm.get("EvaluateLowSampleCountPercentile") or ""
    return trigger


def alarm_message(
    alarm: Mapping[str, Any], old_state: str, new_state: str, reason: str, changed_at: dt.datetime, region: str
) -> dict[str, Any]:
    arn = str(alarm.get("AlarmArn", ""))
    updated = alarm.get("AlarmConfigurationUpdatedTimestamp")
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription") or None,
        "AWSAccountId": _account(arn),
        "AlarmConfigurationUpdatedTimestamp": aws_time(updated) if isinstance(updated, dt.datetime) else updated,
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": aws_time(changed_at),
        "Region": region_name(region),
        "AlarmArn": arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.get("OKActions", [])),
        "AlarmActions": list(alarm.get("AlarmActions", [])),
        "InsufficientDataActions": list(alarm.get("InsufficientDataActions", [])),
        "Trigger": _trigger(alarm),
    }


def subject(alarm_name: str, new_state: str, region: str) -> str:
    text = f'{new_state}: "{alarm_name}" in {region_name(region)}'
    return text[:SUBJECT_LIMIT]


def actions_for(alarm: Mapping[str, Any], new_state: str) -> list[str]:
    key = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}[new_state]
    return [str(action) for action in alarm.get(key, [])]


class Notifier:
    """Publishes alarm notifications to the SNS topics among an alarm's actions.

    Other actions (Auto Scaling policies, EC2 and Systems Manager actions, Lambda) are not performed;
    they are returned so the caller can report them.
    """

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self.published = 0

    def _sns(self, region: str) -> Any:
        return self.clients.for_region(region).client("sns")

    def notify(self, alarm: Mapping[str, Any], message: Mapping[str, Any], new_state: str) -> list[str]:
        """Publish to every SNS action of `new_state`; return the actions that were not SNS topics."""
        skipped: list[str] = []
        if alarm.get("ActionsEnabled") is False:
            return skipped
        region = self.clients.region
        body = json.dumps(message, separators=(",", ":"))
        for action in actions_for(alarm, new_state):
            parts = action.split(":")
            if len(parts) < 6 or parts[2] != "sns":
                skipped.append(action)
                continue
            self._sns(parts[3] or region).publish(
                TopicArn=action, Subject=subject(str(alarm["AlarmName"]), new_state, region), Message=body
            )
            self.published += 1
        return skipped
