"""The CloudWatch emulation against a real patched moto server: metrics in, alarms evaluated, notifications
delivered to a real SQS subscriber of the alarm's SNS topic. Time scale 30: a 60 s period is 2 s."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.aws.cloudwatch.alb_metrics import AlbMetrics
from harness.aws.cloudwatch.ecs_metrics import EcsMetrics
from harness.aws.cloudwatch.emulation import CloudWatchEmulation
from harness.aws.cloudwatch.sqs_metrics import SqsMetrics
from harness.core.clients import AwsClients
from harness.core.context import RuntimeContext
from harness.core.probes import eventually
from harness.core.rundir import RuntimeInfo
from harness.emulator.moto_process import MotoServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SCALE = 30.0
REGION = "us-east-1"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeContext]:
    run_dir = tmp_path_factory.mktemp("moto")
    with MotoServerProcess(run_dir) as server:
        yield RuntimeContext.for_emulator(server.endpoint, REGION, run_dir, time_scale=SCALE)


@pytest.fixture(scope="module")
def clients(context: RuntimeContext) -> AwsClients:
    return context.clients


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Subscriber:
    """An SQS queue subscribed to a new SNS topic; `next()` waits for the next notification."""

    def __init__(self, clients: AwsClients) -> None:
        self.sqs, sns = clients.client("sqs"), clients.client("sns")
        self.topic = sns.create_topic(Name=unique("ops-alerts"))["TopicArn"]
        self.url = self.sqs.create_queue(QueueName=unique("alerts"))["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)

    def next(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=1).get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
                envelope = json.loads(message["Body"])
                return {"Subject": envelope.get("Subject"), **json.loads(envelope["Message"])}
        raise AssertionError(f"no alarm notification on {self.topic} within {timeout}s")


def put_alarm(cw: Any, name: str, topic: str, **params: Any) -> str:
    cw.put_metric_alarm(AlarmName=name, AlarmActions=[topic], OKActions=[topic], **params)
    return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


def test_dlq_message_alarms_and_draining_recovers(context: RuntimeContext, clients: AwsClients) -> None:
    sqs, cw = clients.client("sqs"), clients.client("cloudwatch")
    dlq_name = unique("inbound-dlq")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    alerts = Subscriber(clients)
    name = unique("inbound-dlq-not-empty")
    arn = put_alarm(cw, name, alerts.topic, AlarmDescription="Messages in the dead-letter queue",
                    Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
                    Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=60,
                    EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold", Threshold=0,
                    TreatMissingData="notBreaching")

    with CloudWatchEmulation(context) as emulation:
        first = alerts.next()  # created INSUFFICIENT_DATA, then the first evaluation: an empty DLQ
        assert (first["OldStateValue"], first["NewStateValue"]) == ("INSUFFICIENT_DATA", "OK")

        sqs.send_message(QueueUrl=dlq, MessageBody="poison")
        alarm = alerts.next()
        assert alarm["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
        assert (alarm["AlarmName"], alarm["AlarmArn"], alarm["AWSAccountId"]) == (name, arn, arn.split(":")[4])
        assert (alarm["OldStateValue"], alarm["NewStateValue"]) == ("OK", "ALARM")
        assert alarm["AlarmDescription"] == "Messages in the dead-letter queue"
        assert alarm["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0 (")
        assert alarm["Region"] == "US East (N. Virginia)"
        assert alarm["Trigger"]["Dimensions"] == [{"value": dlq_name, "name": "QueueName"}]
        assert alarm["Trigger"]["Statistic"] == "MAXIMUM" and alarm["Trigger"]["Period"] == 60
        dt.datetime.strptime(alarm["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")

        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]:
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        ok = alerts.next()
        assert (ok["OldStateValue"], ok["NewStateValue"]) == ("ALARM", "OK")
        assert "[0.0 (" in ok["NewStateReason"]

        snapshot = emulation.snapshot()
        assert snapshot["running"] and snapshot["published"]["sqs"] > 0 and not snapshot["errors"]
        assert snapshot["alarms"][name]["state"] == "OK"
        report = RuntimeInfo.of({"ready": True, "cloudwatch": snapshot}).cloudwatch  # as runtime.json holds it
        assert report is not None and report.alarms[name]["state"] == "OK" and report.published["sqs"] > 0

        # An operator testing the pager: notified like any transition, then evaluated back to OK.
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the pager")
        tested = alerts.next()
        assert (tested["NewStateValue"], tested["NewStateReason"]) == ("ALARM", "testing the pager")
        assert alerts.next()["NewStateValue"] == "OK"

    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]


class FakeRunner:
    def __init__(self, cluster_arn: str, service: str) -> None:
        self.running: int | None = 1  # None: the service is gone (no metric at all)
        self.cluster_arn, self.service = cluster_arn, service

    def snapshot(self) -> dict[str, Any]:
        if self.running is None:
            return {"services": {}}
        return {"services": {"s": {"serviceName": self.service, "clusterArn": self.cluster_arn,
                                   "desiredCount": 1, "runningCount": self.running, "pendingCount": 0}}}


def test_running_task_count_alarm_treats_missing_data_as_breaching(
    context: RuntimeContext, clients: AwsClients
) -> None:
    ecs, cw = clients.client("ecs"), clients.client("cloudwatch")
    cluster = ecs.create_cluster(clusterName=unique("cluster"),
                                 settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    runner = FakeRunner(cluster["clusterArn"], "worker")
    alerts = Subscriber(clients)
    name = unique("worker-no-running-tasks")
    put_alarm(cw, name, alerts.topic, Namespace="ECS/ContainerInsights", MetricName="RunningTaskCount",
              Dimensions=[{"Name": "ClusterName", "Value": cluster["clusterName"]},
                          {"Name": "ServiceName", "Value": "worker"}],
              Statistic="Minimum", Period=60, EvaluationPeriods=3, ComparisonOperator="LessThanThreshold",
              Threshold=1, TreatMissingData="breaching")
    sources = [EcsMetrics(runner, ecs)]

    with CloudWatchEmulation(context, sources=sources):
        assert alerts.next()["NewStateValue"] == "OK"  # after 3 periods with a running task
        runner.running = 0
        stopped = alerts.next()
        assert stopped["NewStateValue"] == "ALARM"
        assert stopped["NewStateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints [0.0 (")
        runner.running = 1
        assert alerts.next()["NewStateValue"] == "OK"
        runner.running = None  # the metric stops: missing datapoints are breaching
        gone = alerts.next()
        assert gone["NewStateValue"] == "ALARM"
        assert "treated as [Breaching]" in gone["NewStateReason"]


class FakeAlb:
    def __init__(self) -> None:
        self.target_5xx = 0

    def metrics_snapshot(self, reset: bool = False) -> dict[str, Any]:
        count, self.target_5xx = self.target_5xx, 0 if reset else self.target_5xx
        return {"namespace": "AWS/ApplicationELB", "target_groups": [], "load_balancers": [{
            "arn": "lb", "dimensions": {"LoadBalancer": "app/api/1"},
            "counters": {"RequestCount": count, "HTTPCode_Target_5XX_Count": count},
        }]}


def test_alb_5xx_alarm_recovers_when_the_errors_stop(context: RuntimeContext, clients: AwsClients) -> None:
    cw = clients.client("cloudwatch")
    alb = FakeAlb()
    alerts = Subscriber(clients)
    name = unique("alb-target-5xx")
    put_alarm(cw, name, alerts.topic, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
              Dimensions=[{"Name": "LoadBalancer", "Value": "app/api/1"}], Statistic="Sum", Period=60,
              EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold", Threshold=10,
              TreatMissingData="notBreaching")

    with CloudWatchEmulation(context, sources=[AlbMetrics(alb)]):
        assert alerts.next()["NewStateValue"] == "OK"
        alb.target_5xx = 11
        alarm = alerts.next()
        assert alarm["NewStateValue"] == "ALARM" and "[11.0 (" in alarm["NewStateReason"]
        ok = alerts.next()  # no more errors: no datapoints; OK once the burst leaves the evaluation range
        assert ok["NewStateValue"] == "OK"
        assert "no datapoints were received for 1 period" in ok["NewStateReason"]


def test_sqs_metrics_reach_cloudwatch(context: RuntimeContext, clients: AwsClients) -> None:
    sqs, cw = clients.client("sqs"), clients.client("cloudwatch")
    name = unique("outbound")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    source = SqsMetrics(sqs, clients.endpoint_url, age_scale=SCALE)
    emulation = CloudWatchEmulation(context, sources=[source], evaluate_alarms=False)
    emulation.publish(time.time())  # the baseline for the counters
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    time.sleep(2.1)
    emulation.publish(time.time() + 2.0)

    def metric(metric_name: str, stat: str) -> list[float]:
        now = dt.datetime.now(dt.UTC)
        result = cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName=metric_name, Dimensions=[{"Name": "QueueName", "Value": name}],
            StartTime=now - dt.timedelta(minutes=1), EndTime=now + dt.timedelta(minutes=1), Period=600,
            Statistics=[stat],
        )
        return [p[stat] for p in result["Datapoints"]]

    assert metric("NumberOfMessagesSent", "Sum") == [2.0]
    assert metric("NumberOfMessagesReceived", "Sum") == [1.0]
    assert metric("ApproximateNumberOfMessagesVisible", "Maximum") == [1.0]
    assert metric("ApproximateNumberOfMessagesNotVisible", "Maximum") == [1.0]
    [age] = metric("ApproximateAgeOfOldestMessage", "Maximum")
    assert age >= 2 * SCALE  # two real seconds on a clock running 30 times faster
    assert eventually(lambda: emulation.snapshot()["published"]["sqs"], timeout=1) > 0
