"""Watch CloudWatch alarms the way an on-call operator does: subscribe to the SNS topics an alarm
notifies, with an SQS queue and an HTTPS endpoint (a harness-CA certificate), and read what arrives.

    watch = AlarmWatch(stack)
    [alarm] = watch.find(namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
                         dimensions={"QueueName": "mailstack-dev-inbound-dlq"})
    watch.watch(alarm["AlarmName"])                 # subscribe to its alarm/OK/insufficient-data topics
    ...
    [by_sqs, by_https] = watch.wait_notification(alarm["AlarmName"], "ALARM", since=started, timeout=30)
    watch.close()                                   # unsubscribe, stop the endpoint, delete the queue

Both copies of a notification are compared: SNS must deliver the same CloudWatch alarm message to
every subscriber. Timeouts are in real seconds; `period(alarm)` gives an alarm period on the stack's
scaled clock.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.aws.cloudwatch.periods import Periods
from harness.core.ca import LocalCA
from harness.core.clock import Clock
from harness.core.probes import eventually as default_eventually
from harness.testing.handle import StackHandle

ACTION_LISTS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
# How often a wait looks at the alarm and what the subscribers received: a state change is seen a quarter of a
# second after it happens (a period is 12 s at the default time scale), not up to a second later.
POLL_INTERVAL = 0.25


class PagerEndpoint:
    """HTTPS on 127.0.0.1 with a harness-CA certificate; confirms its subscriptions like a real endpoint
    (GET SubscribeURL) and keeps the notifications it receives."""

    def __init__(self, ca: LocalCA) -> None:
        cert = ca.issue_server_certificate("ops-pager", ["localhost"], ["127.0.0.1"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.cert_path, cert.key_path)
        self.messages: list[dict[str, Any]] = []
        self.confirmed: set[str] = set()  # topic ARNs
        self._lock = threading.Lock()
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if body.get("Type") == "SubscriptionConfirmation":
                    with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as response:  # noqa: S310
                        if response.status == 200:
                            with pager._lock:
                                pager.confirmed.add(body["TopicArn"])
                elif body.get("Type") == "Notification":
                    with pager._lock:
                        pager.messages.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, name="ops-pager", daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/ops-alerts"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _alarm_messages(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SNS envelopes -> CloudWatch alarm notifications (with the envelope's Subject)."""
    found = []
    for envelope in envelopes:
        try:
            message = json.loads(envelope["Message"])
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(message, dict) and "AlarmName" in message:
            found.append({"Subject": envelope.get("Subject"), "TopicArn": envelope.get("TopicArn"), **message})
    return found


def _changed_at(message: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(message["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")


class AlarmWatch:
    """The stack's CloudWatch alarms, and what their SNS actions deliver to subscribers this watch owns."""

    def __init__(self, stack: StackHandle, eventually: Callable[..., Any] = default_eventually) -> None:
        self.stack, self.eventually = stack, eventually
        self.cloudwatch = stack.aws.client("cloudwatch")
        self.sns, self.sqs = stack.aws.client("sns"), stack.aws.client("sqs")
        self._queue_url: str | None = None
        self._queue_arn = ""
        self._pager: PagerEndpoint | None = None
        self._subscriptions: dict[str, list[str]] = {}  # topic ARN -> subscription ARNs
        self._from_queue: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ reading alarms
    def all(self) -> list[dict[str, Any]]:
        alarms: list[dict[str, Any]] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            alarms.extend(page["MetricAlarms"])
        return alarms

    def describe(self, name: str) -> dict[str, Any]:
        found = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if not found:
            raise AssertionError(f"no CloudWatch alarm named {name!r}; alarms: {[a['AlarmName'] for a in self.all()]}")
        return dict(found[0])

    def find(self, *, namespace: str | None = None, metric: str | None = None,
             dimensions: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Alarms on a metric: namespace, metric name, and dimensions (each given one must match)."""
        def matches(alarm: dict[str, Any]) -> bool:
            own = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            return (namespace in (None, alarm.get("Namespace")) and metric in (None, alarm.get("MetricName"))
                    and all(own.get(k) == v for k, v in (dimensions or {}).items()))

        return [alarm for alarm in self.all() if matches(alarm)]

    def one(self, **criteria: Any) -> dict[str, Any]:
        found = self.find(**criteria)
        if len(found) != 1:
            raise AssertionError(f"expected one alarm for {criteria}, found {[a['AlarmName'] for a in found]}")
        return found[0]

    def state(self, name: str) -> dict[str, str]:
        alarm = self.describe(name)
        return {"StateValue": alarm["StateValue"], "StateReason": alarm["StateReason"]}

    def period(self, alarm: dict[str, Any] | None = None) -> float:
        """Real seconds one period of `alarm` (default 60 s) lasts on the stack's scaled clock."""
        self.stack.refresh()
        scale = self.stack.runtime.cloudwatch.time_scale if self.stack.runtime.cloudwatch else 1.0
        return max(1.0, float((alarm or {}).get("Period", 60)) / scale)

    def wait_for_room(self, alarm: dict[str, Any], seconds: float) -> float:
        """Return once at least `seconds` of the current period of `alarm` (its scaled window) remain, so that
        what happens next, if it is over within `seconds`, is counted in one period; returns when that window
        ends (epoch seconds). Windows are numbered from the epoch (`harness.aws.cloudwatch.periods`)."""
        self.stack.refresh()
        scale = self.stack.runtime.cloudwatch.time_scale if self.stack.runtime.cloudwatch else 1.0
        periods = Periods(Clock(time_scale=scale))
        period = float(alarm.get("Period", 60))
        if seconds >= periods.width(period):
            raise ValueError(f"{seconds}s do not fit in one {periods.width(period):g}s window of a {period:g}s period")
        window = periods.current(period)
        if window.end - time.time() < seconds:
            time.sleep(max(0.0, window.end - time.time()) + 0.05)
            window = periods.current(period)
        return window.end

    def history(self, name: str, since: dt.datetime) -> list[dict[str, Any]]:
        answer = self.cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate",
                                                        StartDate=since)
        return list(answer["AlarmHistoryItems"])

    def diagnosis(self, name: str) -> dict[str, Any]:
        """What to show when a wait fails: the alarm, the evaluator's view, the emulation's health."""
        self.stack.refresh()
        cloudwatch = self.stack.runtime.cloudwatch
        emulation: dict[str, Any] = {"missing": "the runtime publishes no cloudwatch state"}
        if cloudwatch is not None:
            emulation = {"running": cloudwatch.running, "last_publish": cloudwatch.last_publish,
                         "errors": cloudwatch.errors, "notes": cloudwatch.notes}
        return {
            "alarm": self.state(name),
            "evaluator": cloudwatch.alarms.get(name) if cloudwatch else None,
            "emulation": emulation,
            "received": [(m["AlarmName"], m["NewStateValue"]) for m in _alarm_messages(self._from_queue)][-6:],
        }

    def wait_state(self, name: str, state: str, timeout: float) -> dict[str, Any]:
        return dict(self.eventually(lambda: self.diagnosis(name), lambda v: v["alarm"]["StateValue"] == state,
                                    timeout=timeout, interval=POLL_INTERVAL, what=f"{name} in {state}"))

    # ------------------------------------------------------------------ subscribers
    def watch(self, name: str) -> list[str]:
        """Subscribe this watch's queue and HTTPS endpoint to every SNS topic the alarm notifies; returns
        the topics."""
        alarm = self.describe(name)
        topics = sorted({arn for key in ACTION_LISTS.values() for arn in alarm.get(key, []) if ":sns:" in arn})
        if not topics:
            raise AssertionError(f"alarm {name} notifies no SNS topic (actions: "
                                 f"{ {k: alarm.get(k) for k in ACTION_LISTS.values()} })")
        for topic in topics:
            self.subscribe(topic)
        return topics

    def subscribe(self, topic_arn: str) -> None:
        if topic_arn in self._subscriptions:
            return
        queue_arn = self._queue()
        pager = self._pager_endpoint()
        self._subscriptions[topic_arn] = [
            self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                               ReturnSubscriptionArn=True)["SubscriptionArn"],
            self.sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=pager.url,
                               ReturnSubscriptionArn=True)["SubscriptionArn"],
        ]
        self._allow_topics()
        self.eventually(lambda: topic_arn in pager.confirmed, timeout=30,
                        what=f"the pager endpoint {pager.url} confirming its subscription to {topic_arn} "
                             "(SNS https delivery trusts the harness CA)")

    def wait_notification(self, name: str, new_state: str, since: dt.datetime, timeout: float,
                          old_state: str | None = None) -> list[dict[str, Any]]:
        """The notification of `name` going (from `old_state`) to `new_state` at or after `since`, as the SQS
        and the HTTPS subscriber received it (the same message)."""
        if not self._subscriptions:
            raise AssertionError(f"nothing subscribed: call watch({name!r}) before the alarm changes state")

        def probe() -> dict[str, Any]:
            self._drain_queue()
            found = {
                channel: [m for m in _alarm_messages(envelopes) if m["AlarmName"] == name
                          and m["NewStateValue"] == new_state and old_state in (None, m["OldStateValue"])
                          and _changed_at(m) >= since]
                for channel, envelopes in (("sqs", self._from_queue), ("https", self._pager_endpoint().received()))
            }
            return {"found": found, **({} if all(found.values()) else self.diagnosis(name))}

        seen = self.eventually(probe, lambda v: all(v["found"].values()), timeout=timeout, interval=POLL_INTERVAL,
                               what=f"{name} -> {new_state} notified to the SQS and HTTPS subscribers")
        by_sqs, by_https = seen["found"]["sqs"][-1], seen["found"]["https"][-1]
        assert {k: v for k, v in by_sqs.items() if k != "Subject"} == {
            k: v for k, v in by_https.items() if k != "Subject"
        }, "SNS delivered different alarm messages to the SQS and the HTTPS subscriber"
        return [by_sqs, by_https]

    def close(self) -> None:
        for arns in self._subscriptions.values():
            for arn in arns:
                self.sns.unsubscribe(SubscriptionArn=arn)
        self._subscriptions.clear()
        if self._pager is not None:
            self._pager.stop()
            self._pager = None
        if self._queue_url is not None:
            self.sqs.delete_queue(QueueUrl=self._queue_url)
            self._queue_url = None

    # ------------------------------------------------------------------ internals
    def _queue(self) -> str:
        if self._queue_url is None:
            self._queue_url = self.sqs.create_queue(QueueName=f"alarm-watch-{uuid.uuid4().hex[:12]}")["QueueUrl"]
            attributes = self.sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        return self._queue_arn

    def _allow_topics(self) -> None:
        """The queue policy an operator writes so SNS may deliver to the queue from the watched topics."""
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "AlarmTopics", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": self._queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(self._subscriptions)}},
        }]}
        self.sqs.set_queue_attributes(QueueUrl=str(self._queue_url), Attributes={"Policy": json.dumps(policy)})

    def _pager_endpoint(self) -> PagerEndpoint:
        if self._pager is None:
            self._pager = PagerEndpoint(LocalCA(self.stack.paths.alb_tls_dir))
        return self._pager

    def _drain_queue(self) -> None:
        if self._queue_url is None:
            return
        for message in self.sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", []):
            self.sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
            self._from_queue.append(json.loads(message["Body"]))
