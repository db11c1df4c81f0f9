"""Operational alarms page the ops-alerts subscribers, as the Terraform's monitoring module promises.

Every alarm is found in the emulated CloudWatch by the metric it watches; the harness publishes the metrics
AWS would (SQS, ALB, Container Insights) and evaluates the alarms on the scaled clock
(``--harness-time-scale``: a 60 s period lasts 60/scale s). The `alarms` fixture stands in for the pager:
it subscribes an SQS queue and an HTTPS endpoint (harness-CA certificate) to the topics an alarm notifies,
as an operator would.

Each scenario here disturbs what its alarm watches (see scenarios/conftest.py), and restores it: the inbound
DLQ (a message in it), the worker service (stopped), or the API and its database (a read grant taken away
for a few seconds).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest

from harness.testing import AlarmWatch, EcsControl
from harness.testing.handle import StackHandle
from harness.testing.queue_worker import QueueWorker
from scenarios.conftest import ScenarioLocks

pytestmark = pytest.mark.scenario


BURST_SECONDS = 4.0  # room the 5xx burst needs in one period (it takes about a second)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.disturbs("inbound-dlq")
def test_dlq_message_pages_ops_and_draining_recovers(stack: StackHandle, alarms: AlarmWatch) -> None:
    sqs = stack.aws.client("sqs")
    dlq = stack.state.outputs["dlq_urls"]["inbound"]
    dlq_name = dlq.rstrip("/").rsplit("/", 1)[-1]
    configured = alarms.one(namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
                            dimensions={"QueueName": dlq_name})
    name, period = configured["AlarmName"], alarms.period(configured)
    alarms.watch(name)
    alarms.wait_state(name, "OK", timeout=10 * period)  # an empty DLQ once the first period is evaluated
    started = now()

    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"poison": True}))
    try:
        [alarm, _] = alarms.wait_notification(name, "ALARM", started, timeout=6 * period + 30)
    finally:
        while messages := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    [ok, _] = alarms.wait_notification(name, "OK", started, timeout=6 * period + 30, old_state="ALARM")

    assert alarm["Subject"] == f'ALARM: "{name}" in {alarm["Region"]}'
    assert alarm["TopicArn"] == str(stack.state.outputs["ops_alerts_topic_arn"])
    assert (alarm["OldStateValue"], alarm["NewStateValue"]) == ("OK", "ALARM")
    assert alarm["AlarmArn"].endswith(f":alarm:{name}") and alarm["AWSAccountId"] in alarm["AlarmArn"]
    assert alarm["AlarmDescription"].startswith("Messages in the dead-letter queue")
    assert alarm["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0 (")
    assert alarm["Trigger"] | {"Dimensions": None} == {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS", "StatisticType": "Statistic",
        "Statistic": "MAXIMUM", "Unit": None, "Dimensions": None, "Period": 60, "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
        "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": "",
    }
    assert alarm["Trigger"]["Dimensions"] == [{"value": dlq_name, "name": "QueueName"}]
    assert (ok["OldStateValue"], ok["NewStateValue"]) == ("ALARM", "OK")
    assert "[0.0 (" in ok["NewStateReason"]

    history = alarms.history(name, since=started)
    assert [h["HistorySummary"] for h in history][:2] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
    ]
    assert json.loads(history[1]["HistoryData"])["newState"]["stateReason"] == alarm["NewStateReason"]


@pytest.mark.disturbs("worker-service", briefly=True)
def test_stopping_the_worker_trips_its_running_task_alarm(stack: StackHandle, alarms: AlarmWatch,
                                                          ecs: EcsControl, scenario_locks: ScenarioLocks) -> None:
    service = str(stack.state.outputs["ecs_service_names"]["worker"])
    cluster = ecs.service(service)["clusterArn"].rsplit("/", 1)[-1]
    configured = alarms.one(namespace="ECS/ContainerInsights", metric="RunningTaskCount",
                            dimensions={"ServiceName": service})
    name, period = configured["AlarmName"], alarms.period(configured)
    alarms.watch(name)
    alarms.wait_state(name, "OK", timeout=10 * period)
    desired = int(ecs.service(service)["desiredCount"]) or 1
    started = now()

    # Desired count 0, as `ecs.scale(service, 0)`, and no receive of a stopped task left open in the inbound
    # queue for the scenarios after this one (harness.testing.queue_worker).
    QueueWorker(ecs, service, str(stack.state.outputs["inbound_queue_url"])).stop()
    try:
        [alarm, _] = alarms.wait_notification(name, "ALARM", started, timeout=8 * period + 60)
    finally:
        ecs.restore()  # the worker back at its desired count, running
    assert ecs.wait_running(service, desired)
    scenario_locks.share("worker-service")  # back as it was: others may use it while the alarm recovers
    assert alarm["NewStateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints [0.0 (")
    assert alarm["Trigger"]["Namespace"] == "ECS/ContainerInsights"
    assert {d["name"]: d["value"] for d in alarm["Trigger"]["Dimensions"]} == {"ClusterName": cluster,
                                                                                "ServiceName": service}
    alarms.wait_notification(name, "OK", started, timeout=6 * period + 30, old_state="ALARM")


@pytest.mark.disturbs("api-service", "database", briefly=True)
def test_api_5xx_trips_the_alb_target_5xx_alarm(stack: StackHandle, alarms: AlarmWatch, api: Any, db: Any,
                                                scenario_locks: ScenarioLocks) -> None:
    """The API loses its read grant on a table (a broken migration, a bad privileges change): every inbox
    listing answers 500, the ALB counts target 5xx, the alarm pages, and recovers once the errors stop."""
    configured = alarms.one(namespace="AWS/ApplicationELB", metric="HTTPCode_Target_5XX_Count")
    name, period = configured["AlarmName"], alarms.period(configured)
    alarms.watch(name)
    alarms.wait_state(name, "OK", timeout=10 * period)
    burst = 2 * (int(configured["Threshold"]) + 1)  # at least threshold + 1 in one period, however they split
    inbox = f"nobody+{uuid.uuid4().hex[:8]}@{stack.mail_domains[0]}"
    # The burst must fall in one period: split over two, the second may hold threshold errors or fewer, and the
    # alarm would return to OK on that datapoint instead of on missing data.
    burst_ends_before = alarms.wait_for_room(configured, seconds=BURST_SECONDS)
    started = now()

    db.execute("REVOKE SELECT ON TABLE inboxes FROM CURRENT_USER")
    try:
        statuses = [api.get(f"/v1/inboxes/{inbox}/messages").status_code for _ in range(burst)]
    finally:
        db.execute("GRANT SELECT ON TABLE inboxes TO CURRENT_USER")
    assert statuses == [500] * burst
    assert time.time() < burst_ends_before, f"the burst of {burst} requests outlasted its period"
    assert api.get(f"/v1/inboxes/{inbox}/messages").status_code in (200, 404)
    # Back as it was. The alarm's own errors are all there will be: no scenario that hangs or stops the API
    # (and could make it answer 5xx) runs until this one ends, the others may use it meanwhile.
    scenario_locks.share("api-service", "database")

    [alarm, _] = alarms.wait_notification(name, "ALARM", started, timeout=6 * period + 30)
    assert alarm["Trigger"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert alarm["Trigger"]["Statistic"] == "SUM"
    assert [d["name"] for d in alarm["Trigger"]["Dimensions"]] == ["LoadBalancer"]
    # No more errors, so no datapoints: OK once the burst's period leaves the evaluation range.
    [ok, _] = alarms.wait_notification(name, "OK", started, timeout=8 * period + 30, old_state="ALARM")
    assert "no datapoints were received" in ok["NewStateReason"]
