"""CloudWatch and SQS-metrics fidelity patches: alarm state and history, metric queries, SQS counters."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness.aws.support import ACCOUNT, REGION, Aws, stock_fails, unique, until


def put_alarm(cw: Any, name: str, **overrides: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": "Test",
        "MetricName": "Depth",
        "Dimensions": [{"Name": "QueueName", "Value": name}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        **overrides,
    }
    cw.put_metric_alarm(**params)


def alarm(cw: Any, name: str) -> dict[str, Any]:
    [found] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(found)


# ------------------------------------------------------------------------------------------------
# cloudwatch-alarm-initial-state


@stock_fails("a new alarm is OK")
def test_new_alarm_is_insufficient_data(server: Aws) -> None:
    cw = server.client("cloudwatch")
    name = unique("alarm")
    put_alarm(cw, name)

    created = alarm(cw, name)
    assert created["StateValue"] == "INSUFFICIENT_DATA"
    assert created["StateReason"] == "Unchecked: Initial alarm creation"


@stock_fails("PutMetricAlarm on an existing alarm resets its state")
def test_updating_an_alarm_keeps_its_state(server: Aws) -> None:
    cw = server.client("cloudwatch")
    name = unique("alarm")
    put_alarm(cw, name)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="breached", StateReasonData='{"a":1}')

    put_alarm(cw, name, Threshold=5.0)

    updated = alarm(cw, name)
    assert (updated["StateValue"], updated["StateReason"], updated["Threshold"]) == ("ALARM", "breached", 5.0)
    assert json.loads(updated["StateReasonData"]) == {"a": 1}


# ------------------------------------------------------------------------------------------------
# cloudwatch-alarm-history


@stock_fails("DescribeAlarmHistory is not implemented", raises=ClientError)
def test_state_changes_are_in_the_alarm_history(server: Aws) -> None:
    cw = server.client("cloudwatch")
    name = unique("alarm")
    put_alarm(cw, name)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="one datapoint breached",
                       StateReasonData='{"version":"1.0","recentDatapoints":[1.0]}')
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="still breached")  # no change
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="drained")

    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]

    assert [i["HistorySummary"] for i in items] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    assert all(i["AlarmName"] == name and i["AlarmType"] == "MetricAlarm" for i in items)
    assert items[0]["Timestamp"] >= items[1]["Timestamp"]
    data = json.loads(items[1]["HistoryData"])
    assert data["oldState"] == {"stateValue": "INSUFFICIENT_DATA", "stateReason": "Unchecked: Initial alarm creation"}
    assert data["newState"] == {"stateValue": "ALARM", "stateReason": "one datapoint breached",
                                "stateReasonData": {"version": "1.0", "recentDatapoints": [1.0]}}


@stock_fails("DescribeAlarms has no StateTransitionedTimestamp")
def test_state_transitioned_timestamp(server: Aws) -> None:
    cw = server.client("cloudwatch")
    name = unique("alarm")
    put_alarm(cw, name)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="x")
    first = alarm(cw, name)["StateTransitionedTimestamp"]
    time.sleep(0.05)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="y")  # same state: no transition

    assert alarm(cw, name)["StateTransitionedTimestamp"] == first


def test_history_filters_pages_and_outlives_the_alarm(aws: Aws) -> None:
    cw = aws.client("cloudwatch")
    name = unique("alarm")
    put_alarm(cw, name)
    put_alarm(cw, name, Threshold=2.0)
    for state in ("ALARM", "OK", "ALARM"):
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=state.lower())
    cw.delete_alarms(AlarmNames=[name])

    everything = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in everything] == [
        f'Alarm "{name}" deleted',
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        f'Alarm "{name}" updated',
        f'Alarm "{name}" created',
    ]
    created = json.loads(everything[-1]["HistoryData"])
    assert created["type"] == "Create" and created["createdAlarm"]["threshold"] == 0.0
    assert json.loads(everything[-2]["HistoryData"])["updatedAlarm"]["threshold"] == 2.0

    ascending = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending", MaxRecords=4)
    assert [i["HistorySummary"] for i in ascending["AlarmHistoryItems"]] == [
        i["HistorySummary"] for i in reversed(everything)
    ][:4]
    rest = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending", MaxRecords=4,
                                     NextToken=ascending["NextToken"])
    assert len(rest["AlarmHistoryItems"]) == 2 and "NextToken" not in rest

    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert cw.describe_alarm_history(AlarmName=name, StartDate=future)["AlarmHistoryItems"] == []
    assert cw.describe_alarm_history(AlarmName=name, AlarmTypes=["CompositeAlarm"])["AlarmHistoryItems"] == []
    with pytest.raises(ClientError):
        cw.describe_alarm_history(AlarmName=name, MaxRecords=101)


# ------------------------------------------------------------------------------------------------
# cloudwatch-metric-statistics


def _window() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"StartTime": now - dt.timedelta(minutes=5), "EndTime": now + dt.timedelta(minutes=5)}


def _put(cw: Any, namespace: str, values: list[float], **dimensions: str) -> None:
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Count", "Value": v, "Dimensions": [{"Name": k, "Value": d} for k, d in dimensions.items()]}
        for v in values
    ])


@stock_fails("GetMetricStatistics adds in every series that includes the dimensions")
def test_get_metric_statistics_selects_the_exact_dimension_set(server: Aws) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("ns")
    _put(cw, namespace, [3.0], LoadBalancer="app/api/1")
    _put(cw, namespace, [2.0], LoadBalancer="app/api/1", TargetGroup="targetgroup/api/2")

    stats = cw.get_metric_statistics(Namespace=namespace, MetricName="Count", Period=600, Statistics=["Sum"],
                                     Dimensions=[{"Name": "LoadBalancer", "Value": "app/api/1"}], **_window())

    assert [p["Sum"] for p in stats["Datapoints"]] == [3.0]


@stock_fails("GetMetricData misses a multi-dimension series given in another order")
def test_get_metric_data_ignores_dimension_order(server: Aws) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("ns")
    _put(cw, namespace, [1.0], ServiceName="worker", ClusterName="mailstack")

    for dimensions in (["ClusterName", "ServiceName"], ["ServiceName", "ClusterName"]):
        values = {"ClusterName": "mailstack", "ServiceName": "worker"}
        metric = {"Namespace": namespace, "MetricName": "Count",
                  "Dimensions": [{"Name": d, "Value": values[d]} for d in dimensions]}
        result = cw.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": metric, "Period": 600, "Stat": "Minimum"}}],
            **_window(),
        )
        assert result["MetricDataResults"][0]["Values"] == [1.0], dimensions


@stock_fails("percentiles are never computed")
def test_percentiles(server: Aws) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("ns")
    _put(cw, namespace, [float(v) for v in range(1, 101)], Api="x")
    dimensions = [{"Name": "Api", "Value": "x"}]

    stats = cw.get_metric_statistics(Namespace=namespace, MetricName="Count", Period=600, Dimensions=dimensions,
                                     ExtendedStatistics=["p50", "p99"], **_window())
    metric = {"Namespace": namespace, "MetricName": "Count", "Dimensions": dimensions}
    data = cw.get_metric_data(
        MetricDataQueries=[{"Id": "p", "MetricStat": {"Metric": metric, "Period": 600, "Stat": "p90"}}], **_window()
    )

    assert [p["ExtendedStatistics"] for p in stats["Datapoints"]] == [{"p50": 50.0, "p99": 99.0}]
    assert data["MetricDataResults"][0]["Values"] == [90.0]


# ------------------------------------------------------------------------------------------------
# sqs-cloudwatch-metrics


def sqs_inside(endpoint: str, arn: str) -> dict[str, Any]:
    with urllib.request.urlopen(endpoint + "/_harness/sqs", timeout=10) as response:
        queues = {q["QueueArn"]: q for q in json.loads(response.read())["queues"]}
    return dict(queues[arn])


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@stock_fails("no SQS message counters or oldest-message age anywhere", raises=Exception)
def test_sqs_counters_and_oldest_message_age(server: Aws) -> None:
    sqs = server.client("sqs")
    name = unique("q")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])  # a repeat counts too
    time.sleep(1.1)

    inside = sqs_inside(server.endpoint, queue_arn(name))

    assert inside["QueueName"] == name
    assert (inside["NumberOfMessagesSent"], inside["NumberOfMessagesReceived"],
            inside["NumberOfMessagesDeleted"], inside["NumberOfEmptyReceives"]) == (3, 2, 2, 0)
    assert inside["ApproximateAgeOfOldestMessage"] >= 1
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert before["ApproximateNumberOfMessages"] == "1"  # reading the metrics received nothing


def test_dlq_age_counts_from_the_move_and_empty_receives(aws: Aws) -> None:
    sqs = aws.client("sqs")
    dlq_name, source_name = unique("dlq"), unique("src")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=source_name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"})
    source_url = source["QueueUrl"]
    sqs.send_message(QueueUrl=source_url, MessageBody="poison")
    sqs.receive_message(QueueUrl=source_url)  # received once, not deleted
    time.sleep(1.2)
    until(lambda: not sqs.receive_message(QueueUrl=source_url).get("Messages"))  # moved to the DLQ

    assert sqs_inside(aws.endpoint, queue_arn(dlq_name))["ApproximateAgeOfOldestMessage"] == 0
    assert sqs_inside(aws.endpoint, queue_arn(source_name))["NumberOfEmptyReceives"] >= 1
    assert sqs_inside(aws.endpoint, queue_arn(dlq_name))["NumberOfMessagesSent"] == 0  # a redrive is no send
    sqs.purge_queue(QueueUrl=dlq)
