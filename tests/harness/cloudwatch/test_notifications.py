"""The SNS message an alarm state change publishes, in the shape CloudWatch sends."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from harness.aws.cloudwatch.notifications import Notifier, actions_for, alarm_message, region_name, subject

TOPIC = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
ALARM: dict[str, Any] = {
    "AlarmName": "mailstack-inbound-dlq-not-empty",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mailstack-inbound-dlq-not-empty",
    "AlarmDescription": "Messages in the dead-letter queue",
    "AlarmConfigurationUpdatedTimestamp": dt.datetime(2026, 1, 2, 3, 0, 0, 123000, tzinfo=dt.UTC),
    "ActionsEnabled": True,
    "OKActions": [TOPIC],
    "AlarmActions": [TOPIC, "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"],
    "InsufficientDataActions": [],
    "StateValue": "ALARM",
    "MetricName": "ApproximateNumberOfMessagesVisible",
    "Namespace": "AWS/SQS",
    "Statistic": "Maximum",
    "Dimensions": [{"Name": "QueueName", "Value": "mailstack-inbound-dlq"}],
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 0.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
}


def test_message_has_cloudwatchs_keys_in_order() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    message = alarm_message(ALARM, "OK", "ALARM", "Threshold Crossed: ...", at, "us-east-1")
    assert list(message) == [
        "AlarmName", "AlarmDescription", "AWSAccountId", "AlarmConfigurationUpdatedTimestamp", "NewStateValue",
        "NewStateReason", "StateChangeTime", "Region", "AlarmArn", "OldStateValue", "OKActions", "AlarmActions",
        "InsufficientDataActions", "Trigger",
    ]
    assert message["AWSAccountId"] == "123456789012"
    assert message["StateChangeTime"] == "2026-01-02T03:04:05.678+0000"
    assert message["AlarmConfigurationUpdatedTimestamp"] == "2026-01-02T03:00:00.123+0000"
    assert message["Region"] == "US East (N. Virginia)"
    assert message["Trigger"] == {
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "StatisticType": "Statistic",
        "Statistic": "MAXIMUM",
        "Unit": None,
        "Dimensions": [{"value": "mailstack-inbound-dlq", "name": "QueueName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }


def test_extended_statistic_trigger_and_no_description() -> None:
    alarm = {**ALARM, "ExtendedStatistic": "p99", "AlarmDescription": None}
    alarm.pop("Statistic")
    message = alarm_message(alarm, "OK", "ALARM", "r", dt.datetime.now(dt.UTC), "eu-west-1")
    assert message["AlarmDescription"] is None
    assert message["Trigger"]["StatisticType"] == "ExtendedStatistic"
    assert message["Trigger"]["ExtendedStatistic"] == "p99"
    assert message["Region"] == region_name("eu-west-1") == "Europe (Ireland)"


def test_subject_and_actions_per_state() -> None:
    assert subject("a", "ALARM", "us-east-1") == 'ALARM: "a" in US East (N. Virginia)'
    assert len(subject("x" * 300, "OK", "us-east-1")) == 100
    assert actions_for(ALARM, "OK") == [TOPIC]
    assert actions_for(ALARM, "INSUFFICIENT_DATA") == []


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "m"}


class FakeClients:
    endpoint_url = "http://localhost"
    region = "us-east-1"

    def __init__(self) -> None:
        self.sns = FakeSns()

    def client(self, service: str) -> Any:
        assert service == "sns"
        return self.sns

    def for_region(self, region: str) -> FakeClients:
        assert region == self.region
        return self


def test_notifier_publishes_to_sns_actions_and_reports_the_rest() -> None:
    clients = FakeClients()
    notifier = Notifier(clients)  # type: ignore[arg-type]
    skipped = notifier.notify(ALARM, {"AlarmName": ALARM["AlarmName"]}, "ALARM")
    assert skipped == ["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"]
    [published] = clients.sns.published
    assert published["TopicArn"] == TOPIC
    assert published["Subject"] == 'ALARM: "mailstack-inbound-dlq-not-empty" in US East (N. Virginia)'
    assert json.loads(published["Message"]) == {"AlarmName": ALARM["AlarmName"]}
    assert notifier.notify({**ALARM, "ActionsEnabled": False}, {}, "ALARM") == []
    assert len(clients.sns.published) == 1
