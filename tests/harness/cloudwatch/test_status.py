"""`harness status` rows from the emulation's report."""

from __future__ import annotations

from harness.aws.cloudwatch.status import status_rows
from harness.core.rundir import CloudWatchInfo, RuntimeInfo


def test_rows_summarise_alarms_and_show_what_needs_attention() -> None:
    report = RuntimeInfo.of({"ready": True, "cloudwatch": {
        "period_60_seconds": 12.0, "running": True, "notifications": 3,
        "alarms": {"a": {"state": "OK", "reason": "fine"}, "b": {"state": "ALARM", "reason": "Threshold Crossed"}},
        "errors": {"sqs": "EndpointConnectionError: down"},
        "notes": ["Container Insights disabled on plain: no ECS task counts"],
        "actions_not_performed": ["arn:aws:autoscaling:us-east-1:1:scalingPolicy:x"],
    }}).cloudwatch
    rows = status_rows(report)
    assert rows == [
        ("CloudWatch", "a 60 s period lasts 12 s; alarms: 1 ALARM, 1 OK; 3 notifications sent"),
        ("alarm b", "ALARM: Threshold Crossed"),
        ("CloudWatch sqs", "error: EndpointConnectionError: down"),
        ("CloudWatch note", "Container Insights disabled on plain: no ECS task counts"),
        ("CloudWatch action not performed", "arn:aws:autoscaling:us-east-1:1:scalingPolicy:x"),
    ]
    assert status_rows(None) == []
    assert status_rows(CloudWatchInfo(running=False))[0][1].endswith("(NOT RUNNING)")
