"""Operational alarms page the ops-alerts subscribers, as the Terraform's monitoring module promises.

Every alarm comes from the Terraform (read back from its outputs and the emulated CloudWatch); the harness
publishes the metrics AWS would (SQS, ALB, Container Insights) and evaluates the alarms on the scaled
clock (``--harness-time-scale``: a 60 s period lasts 60/scale s). Two subscribers stand in for the pager:
an SQS queue and an HTTPS endpoint with a certificate from the harness CA, subscribed to ops-alerts by
the test as an operator would.

Every scenario here is ``own_stack``: each needs the inbound DLQ empty, or stops the worker service, or
takes a read grant from the API for a few seconds, and restores what it changed.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.handle import StackHandle
from harness.tls import LocalCA

pytestmark = [pytest.mark.scenario, pytest.mark.own_stack]


class PagerEndpoint:
    """HTTPS on 127.0.0.1 with a harness-CA certificate; confirms its subscription like a real endpoint
    (GET SubscribeURL) and keeps the alarm notifications it receives."""

    def __init__(self, ca: LocalCA) -> None:
        cert = ca.issue_server_certificate("ops-pager", ["localhost"], ["127.0.0.1"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.cert_path, cert.key_path)
        self.messages: list[dict[str, Any]] = []
        self.confirmed = threading.Event()
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if body.get("Type") == "SubscriptionConfirmation":
                    with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as response:
                        if response.status == 200:
                            pager.confirmed.set()
                elif body.get("Type") == "Notification":
                    pager.messages.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/ops-alerts"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OpsAlerts:
    """The ops-alerts topic's test subscribers and what they received, as alarm notifications."""

    def __init__(self, stack: StackHandle, eventually: Callable[..., Any]) -> None:
        self.stack, self.eventually = stack, eventually
        self.sns, self.sqs = stack.aws.client("sns"), stack.aws.client("sqs")
        self.cloudwatch = stack.aws.client("cloudwatch")
        self.topic = str(stack.state.outputs["ops_alerts_topic_arn"])
        self.queue = self.sqs.create_queue(QueueName=f"ops-alerts-pager-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]
        self.subscriptions = [
            self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"],
                               ReturnSubscriptionArn=True)["SubscriptionArn"]
        ]
        self.pager = PagerEndpoint(LocalCA(stack.run_dir / "alb" / "tls"))
        self.subscriptions.append(self.sns.subscribe(TopicArn=self.topic, Protocol="https", Endpoint=self.pager.url,
                                                     ReturnSubscriptionArn=True)["SubscriptionArn"])
        eventually(self.pager.confirmed.is_set, timeout=30,
                   what=f"the pager endpoint {self.pager.url} confirming its ops-alerts subscription "
                        "(SNS https delivery trusts the harness CA)")
        self.from_queue: list[dict[str, Any]] = []

    def close(self) -> None:
        for arn in self.subscriptions:
            self.sns.unsubscribe(SubscriptionArn=arn)
        self.pager.stop()
        self.sqs.delete_queue(QueueUrl=self.queue)

    def _drain_queue(self) -> None:
        for message in self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
            self.from_queue.append(json.loads(message["Body"]))

    @staticmethod
    def _alarms(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"Subject": e.get("Subject"), **json.loads(e["Message"])} for e in envelopes]

    def state(self, alarm_name: str) -> dict[str, Any]:
        [alarm] = self.cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        return {"StateValue": alarm["StateValue"], "StateReason": alarm["StateReason"]}

    def diagnosis(self, alarm_name: str) -> dict[str, Any]:
        self.stack.refresh()
        cloudwatch = self.stack.runtime.get("cloudwatch") or {"missing": "the runtime publishes no cloudwatch state"}
        return {
            "alarm": self.state(alarm_name),
            "evaluator": (cloudwatch.get("alarms") or {}).get(alarm_name),
            "emulation": {k: cloudwatch.get(k) for k in ("running", "last_publish", "errors", "notes")},
            "received": [(m["AlarmName"], m["NewStateValue"]) for m in self._alarms(self.from_queue)][-6:],
        }

    def wait(self, alarm_name: str, new_state: str, since: dt.datetime, timeout: float,
             old_state: str | None = None) -> list[dict[str, Any]]:
        """The notifications of `alarm_name` going (from `old_state`) to `new_state` after `since`, from both
        subscribers."""

        def probe() -> dict[str, Any]:
            self._drain_queue()
            found = {
                channel: [m for m in self._alarms(envelopes) if m["AlarmName"] == alarm_name
                          and m["NewStateValue"] == new_state and old_state in (None, m["OldStateValue"])
                          and dt.datetime.strptime(m["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z") >= since]
                for channel, envelopes in (("sqs", self.from_queue), ("https", self.pager.messages))
            }
            return {"found": found, **({} if all(found.values()) else self.diagnosis(alarm_name))}

        seen = self.eventually(probe, lambda v: all(v["found"].values()), timeout=timeout, interval=1.0,
                               what=f"{alarm_name} -> {new_state} notified to the SQS and HTTPS subscribers")
        sqs_copy, https_copy = seen["found"]["sqs"][-1], seen["found"]["https"][-1]
        assert {k: v for k, v in sqs_copy.items() if k != "Subject"} == {
            k: v for k, v in https_copy.items() if k != "Subject"
        }
        return [sqs_copy, https_copy]

    def wait_state(self, alarm_name: str, state: str, timeout: float) -> None:
        self.eventually(lambda: self.diagnosis(alarm_name), lambda v: v["alarm"]["StateValue"] == state,
                        timeout=timeout, interval=1.0, what=f"{alarm_name} in {state}")


@pytest.fixture(scope="module")
def alerts(stack: StackHandle) -> Iterator[OpsAlerts]:
    from harness.probes import eventually

    stack.refresh()
    if "cloudwatch" not in stack.runtime:
        pytest.skip("the runtime does not run the CloudWatch emulation: harness/runtime/daemon.py must start "
                    "harness.cloudwatch.CloudWatchEmulation and publish its snapshot() as runtime['cloudwatch']")
    subscribers = OpsAlerts(stack, eventually)
    try:
        yield subscribers
    finally:
        subscribers.close()


@pytest.fixture(scope="module")
def period(harness_settings: Any) -> float:
    """Real seconds a 60 s alarm period lasts at the session's time scale."""
    return max(1.0, 60.0 / float(harness_settings.time_scale))


def alarm_name(stack: StackHandle, kind: str, key: str) -> str:
    return str(stack.state.outputs["alarm_names"][kind][key])


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_dlq_message_pages_ops_and_draining_recovers(stack: StackHandle, alerts: OpsAlerts, period: float) -> None:
    sqs, cloudwatch = stack.aws.client("sqs"), stack.aws.client("cloudwatch")
    name = alarm_name(stack, "dlq_depth", "inbound")
    dlq = stack.state.outputs["dlq_urls"]["inbound"]
    alerts.wait_state(name, "OK", timeout=10 * period)  # an empty DLQ once the first period is evaluated
    started = now()

    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"poison": True}))
    try:
        [alarm, _] = alerts.wait(name, "ALARM", started, timeout=6 * period + 30)
    finally:
        while messages := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    [ok, _] = alerts.wait(name, "OK", started, timeout=6 * period + 30, old_state="ALARM")

    dlq_name = dlq.rstrip("/").rsplit("/", 1)[-1]
    assert alarm["Subject"] == f'ALARM: "{name}" in {alarm["Region"]}'
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

    history = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate",
                                                StartDate=started)["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history][:2] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
    ]
    assert json.loads(history[1]["HistoryData"])["newState"]["stateReason"] == alarm["NewStateReason"]


def test_stopping_the_worker_trips_its_running_task_alarm(stack: StackHandle, alerts: OpsAlerts,
                                                          period: float, eventually: Callable[..., Any]) -> None:
    ecs = stack.aws.client("ecs")
    cluster = str(stack.state.outputs["ecs_cluster_name"])
    service = str(stack.state.outputs["ecs_service_names"]["worker"])
    name = alarm_name(stack, "running_tasks", "worker")
    alerts.wait_state(name, "OK", timeout=10 * period)
    [described] = ecs.describe_services(cluster=cluster, services=[service])["services"]
    desired = int(described["desiredCount"]) or 1
    started = now()

    ecs.update_service(cluster=cluster, service=service, desiredCount=0)
    try:
        [alarm, _] = alerts.wait(name, "ALARM", started, timeout=8 * period + 60)
    finally:
        ecs.update_service(cluster=cluster, service=service, desiredCount=desired)
    assert alarm["NewStateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints [0.0 (")
    assert alarm["Trigger"]["Namespace"] == "ECS/ContainerInsights"
    assert {d["name"]: d["value"] for d in alarm["Trigger"]["Dimensions"]} == {"ClusterName": cluster,
                                                                                "ServiceName": service}

    def running() -> int:
        stack.refresh()
        services = (stack.runtime.get("ecs") or {}).get("services", {}).values()
        return sum(int(s["runningCount"]) for s in services if s["serviceName"] == service)

    eventually(running, lambda count: count >= desired, timeout=120, what=f"{service} running again")
    alerts.wait(name, "OK", started, timeout=6 * period + 30, old_state="ALARM")


def test_api_5xx_trips_the_alb_target_5xx_alarm(stack: StackHandle, alerts: OpsAlerts, api: Any, db: Any,
                                                period: float) -> None:
    """The API loses its read grant on a table (a broken migration, a bad privileges change): every inbox
    listing answers 500, the ALB counts target 5xx, the alarm pages, and recovers once the errors stop."""
    name = alarm_name(stack, "alb_5xx", "target")
    [configured] = stack.aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    alerts.wait_state(name, "OK", timeout=10 * period)
    burst = 2 * (int(configured["Threshold"]) + 1)  # at least threshold + 1 in one period, however they split
    inbox = f"nobody+{uuid.uuid4().hex[:8]}@{stack.mail_domains[0]}"
    started = now()

    db.execute("REVOKE SELECT ON TABLE inboxes FROM CURRENT_USER")
    try:
        statuses = [api.get(f"/v1/inboxes/{inbox}/messages").status_code for _ in range(burst)]
    finally:
        db.execute("GRANT SELECT ON TABLE inboxes TO CURRENT_USER")
    assert statuses == [500] * burst
    assert api.get(f"/v1/inboxes/{inbox}/messages").status_code in (200, 404)

    [alarm, _] = alerts.wait(name, "ALARM", started, timeout=6 * period + 30)
    assert alarm["Trigger"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert alarm["Trigger"]["Statistic"] == "SUM"
    assert [d["name"] for d in alarm["Trigger"]["Dimensions"]] == ["LoadBalancer"]
    # No more errors, so no datapoints: OK once the burst's period leaves the evaluation range.
    [ok, _] = alerts.wait(name, "OK", started, timeout=8 * period + 30, old_state="ALARM")
    assert "no datapoints were received" in ok["NewStateReason"]
