"""Fidelity patch `sns-http-delivery`: SNS to http/https subscribers behaves like AWS.

Every test runs against a real moto server process (`python -m harness.emulator.moto_server`) and a real local
HTTP endpoint that records what it receives. Tests parametrized with `server` also run against stock moto
(`--no-patches`), where they are expected to fail (xfail strict): that proves each test sees the gap.
Signatures are checked here with `cryptography` alone, independent of the patch's own signing code.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from harness.core.probes import eventually
from harness.emulator.moto_process import MotoServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WAIT = 3.0  # seconds to wait for an asynchronous delivery (it takes milliseconds)
TIME_SCALE = "100"  # AWS's default 20 s retry delay becomes 0.2 s


# ------------------------------------------------------------------------------------------------
# A real HTTP endpoint that records every request


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def kind(self) -> str | None:
        """The message type: AWS's header, else the body's Type (stock moto sends no header)."""
        if "x-amz-sns-message-type" in self.headers:
            return self.headers["x-amz-sns-message-type"]
        try:
            return self.json().get("Type")
        except ValueError:
            return None


@dataclass
class Recorder:
    """Records every POST; answers `status` to the next `fail(path, n, status)` requests at a path, else 200."""

    requests: list[Received] = field(default_factory=list)
    failures: dict[str, tuple[int, int]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, path: str, times: int, status: int = 500) -> None:
        with self.cond:
            self.failures[path] = (times, status)

    def record(self, received: Received) -> int:
        with self.cond:
            self.requests.append(received)
            times, status = self.failures.get(received.path, (0, 200))
            if times > 0:
                self.failures[received.path] = (times - 1, status)
            else:
                status = 200
            self.cond.notify_all()
        return status

    def at(self, path: str, kind: str | None = None) -> list[Received]:
        with self.cond:
            return [r for r in self.requests if r.path == path and (kind is None or r.kind == kind)]

    def wait_for(self, path: str, kind: str | None = None, count: int = 1, timeout: float = WAIT) -> list[Received]:
        return eventually(lambda: self.at(path, kind), lambda found: len(found) >= count, timeout=timeout,
                          interval=0.02, what=f"{count} {kind or 'request'}(s) at {path}")


def _serve(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = recorder.record(Received(self.path, headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    server = _serve(rec)
    yield rec
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------------------------------------
# Moto servers: patched (only this patch) and stock


@pytest.fixture(scope="module")
def signing_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("sns-signing")


@pytest.fixture(scope="module")
def patched_server(signing_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServerProcess]:
    import os

    env = {**os.environ, "HARNESS_TIME_SCALE": TIME_SCALE, "HARNESS_SNS_SIGNING_DIR": str(signing_dir)}
    env.pop("HARNESS_SNS_PUBLIC_URL", None)
    run_dir = tmp_path_factory.mktemp("patched-moto")
    with MotoServerProcess(run_dir, patches=["sns-http-delivery"], env=env, inherit_env=False) as server:
        yield server


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServerProcess]:
    with MotoServerProcess(tmp_path_factory.mktemp("stock-moto"), no_patches=True) as server:
        yield server


@pytest.fixture(
    params=[
        "patched",
        pytest.param("stock", marks=pytest.mark.xfail(strict=True, reason="stock moto lacks this AWS behaviour")),
    ]
)
def server(request: pytest.FixtureRequest) -> MotoServerProcess:
    return request.getfixturevalue(f"{request.param}_server")


def sns_client(server: MotoServerProcess) -> Any:
    return boto3.client(
        "sns",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def sns(server: MotoServerProcess) -> Any:
    return sns_client(server)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def subscribe_confirmed(sns: Any, recorder: Recorder, topic_arn: str, path: str) -> str:
    """Subscribe `path` and confirm with the token from the SubscriptionConfirmation, as a service would.

    A subscription that is not pending (stock moto confirms at once) is left as it is, so the stock variant
    of a test fails at the assertion the test is about, not here.
    """
    arn = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=recorder.url(path), ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    if attributes["PendingConfirmation"] == "true":
        confirmation = recorder.wait_for(path, "SubscriptionConfirmation")[-1].json()
        sns.confirm_subscription(TopicArn=topic_arn, Token=confirmation["Token"])
    return arn


def canonical(message: dict[str, Any]) -> bytes:
    """AWS's string to sign, written out independently of the patch."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()


def verify(message: dict[str, Any], server: MotoServerProcess) -> None:
    cert_url = message["SigningCertURL"]
    assert cert_url.startswith(server.endpoint + "/"), f"SigningCertURL {cert_url} is not on the moto server"
    status, pem = http_get(cert_url)
    assert status == 200
    cert = x509.load_pem_x509_certificate(pem.encode())
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    cert.public_key().verify(  # type: ignore[union-attr,call-arg]
        base64.b64decode(message["Signature"]), canonical(message), padding.PKCS1v15(), algorithm
    )


# ------------------------------------------------------------------------------------------------
# Confirmation handshake


def test_subscription_pending_until_subscribe_url_is_fetched(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("handshake"))["TopicArn"]
    path = f"/ok/{unique('handshake')}"

    answer = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=recorder.url(path))
    assert answer["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]

    confirmation = recorder.wait_for(path, "SubscriptionConfirmation")[0]
    body = confirmation.json()
    assert body["Type"] == "SubscriptionConfirmation"
    assert body["TopicArn"] == topic_arn
    assert body["Message"] == (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    assert {
        "MessageId",
        "Token",
        "SubscribeURL",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    } <= set(body)
    assert confirmation.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert confirmation.headers["x-amz-sns-message-id"] == body["MessageId"]
    assert confirmation.headers["x-amz-sns-topic-arn"] == topic_arn

    # Not confirmed yet: a Publish reaches nobody.
    sns.publish(TopicArn=topic_arn, Message="too early")
    time.sleep(0.5)
    assert recorder.at(path, "Notification") == []

    subscribe_url = body["SubscribeURL"]
    assert subscribe_url.startswith(server.endpoint + "/?Action=ConfirmSubscription&")
    status, xml = http_get(subscribe_url)
    assert status == 200, xml
    arn = re.search(r"<SubscriptionArn>(.*?)</SubscriptionArn>", xml).group(1)  # type: ignore[union-attr]
    assert arn.startswith(topic_arn + ":")
    listed = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [arn]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"

    message_id = sns.publish(TopicArn=topic_arn, Message="hello")["MessageId"]
    notification = recorder.wait_for(path, "Notification")[0].json()
    assert notification["MessageId"] == message_id
    assert notification["Message"] == "hello"


def test_confirm_subscription_checks_the_token(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("token"))["TopicArn"]
    path = f"/ok/{unique('token')}"
    arn = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=recorder.url(path), ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    assert arn.startswith(topic_arn + ":")  # ReturnSubscriptionArn: the ARN even while pending
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"

    with pytest.raises(ClientError) as caught:
        sns.confirm_subscription(TopicArn=topic_arn, Token="not-the-token")
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"

    token = recorder.wait_for(path, "SubscriptionConfirmation")[0].json()["Token"]
    assert sns.confirm_subscription(TopicArn=topic_arn, Token=token)["SubscriptionArn"] == arn
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert (attributes["SubscriptionsConfirmed"], attributes["SubscriptionsPending"]) == ("1", "0")


# ------------------------------------------------------------------------------------------------
# Notifications: headers, body, signatures


def test_notification_headers_and_body(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("shape"))["TopicArn"]
    path = f"/ok/{unique('shape')}"
    arn = subscribe_confirmed(sns, recorder, topic_arn, path)

    message_id = sns.publish(
        TopicArn=topic_arn,
        Message="body text",
        Subject="the subject",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "alert"}},
    )["MessageId"]
    received = recorder.wait_for(path, "Notification")[0]

    assert received.headers["x-amz-sns-message-type"] == "Notification"
    assert received.headers["x-amz-sns-message-id"] == message_id
    assert received.headers["x-amz-sns-topic-arn"] == topic_arn
    assert received.headers["x-amz-sns-subscription-arn"] == arn
    assert received.headers["content-type"] == "text/plain; charset=UTF-8"
    assert received.headers["user-agent"] == "Amazon Simple Notification Service Agent"
    body = received.json()
    assert list(body) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ]
    assert (body["Type"], body["MessageId"], body["TopicArn"]) == ("Notification", message_id, topic_arn)
    assert (body["Subject"], body["Message"]) == ("the subject", "body text")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["Timestamp"])
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "alert"}}
    assert body["UnsubscribeURL"].startswith(server.endpoint + "/?Action=Unsubscribe&SubscriptionArn=")


@pytest.mark.parametrize("version", ["1", "2"])
def test_signatures_verify_with_the_served_certificate(
    server: MotoServerProcess, sns: Any, recorder: Recorder, version: str
):
    topic_arn = sns.create_topic(Name=unique(f"sig{version}"))["TopicArn"]
    if version == "2":
        sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="SignatureVersion", AttributeValue="2")
    path = f"/ok/{unique('sig')}"
    subscribe_confirmed(sns, recorder, topic_arn, path)
    sns.publish(TopicArn=topic_arn, Message="sign me\nwith a newline and ünïcode", Subject="signed")
    sns.publish(TopicArn=topic_arn, Message="no subject")

    confirmations = recorder.at(path, "SubscriptionConfirmation")
    notifications = recorder.wait_for(path, "Notification", count=2)
    for received in confirmations + notifications:
        message = received.json()
        assert message["SignatureVersion"] == version
        verify(message, server)
    tampered = dict(notifications[0].json(), Message="tampered")
    with pytest.raises(InvalidSignature):
        verify(tampered, server)


# ------------------------------------------------------------------------------------------------
# Delivery: dead endpoints, retries, raw delivery, delivery policy


def test_dead_endpoint_does_not_fail_publish_or_other_subscribers(
    server: MotoServerProcess, sns: Any, recorder: Recorder
):
    topic_arn = sns.create_topic(Name=unique("dead"))["TopicArn"]
    # The dead subscriber comes first: it was alive when it subscribed and confirmed, then its port closed.
    doomed = Recorder()
    doomed_server = _serve(doomed)
    try:
        subscribe_confirmed(sns, doomed, topic_arn, "/ok/dead")
    finally:
        doomed_server.shutdown()
        doomed_server.server_close()
    healthy = f"/ok/{unique('healthy')}"
    subscribe_confirmed(sns, recorder, topic_arn, healthy)

    started = time.monotonic()
    try:
        message_id = sns.publish(TopicArn=topic_arn, Message="still delivered")["MessageId"]
    except (ClientError, BotoCoreError) as exc:
        raise AssertionError(f"Publish failed because one subscriber is down: {exc}") from exc
    assert time.monotonic() - started < 2.0
    assert recorder.wait_for(healthy, "Notification")[0].json()["MessageId"] == message_id


def test_failing_endpoint_gets_the_message_on_a_retry(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("retry"))["TopicArn"]
    path = f"/ok/{unique('retry')}"
    subscribe_confirmed(sns, recorder, topic_arn, path)

    recorder.fail(path, 2)  # 500, 500, then 200
    message_id = sns.publish(TopicArn=topic_arn, Message="persist")["MessageId"]
    attempts = recorder.wait_for(path, "Notification", count=3)
    assert [a.json()["MessageId"] for a in attempts] == [message_id] * 3
    time.sleep(0.5)
    assert len(recorder.at(path, "Notification")) == 3  # delivered on the second retry, then left alone


def test_subscription_confirmation_is_retried(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("confirm-retry"))["TopicArn"]
    path = f"/ok/{unique('confirm-retry')}"
    recorder.fail(path, 1)
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=recorder.url(path))
    confirmations = recorder.wait_for(path, "SubscriptionConfirmation", count=2)
    assert confirmations[0].body == confirmations[1].body  # the same signed message, sent again


def test_subscription_delivery_policy_is_honoured(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("policy"))["TopicArn"]
    path = f"/ok/{unique('policy')}"
    arn = subscribe_confirmed(sns, recorder, topic_arn, path)
    policy = {"healthyRetryPolicy": {"numRetries": 6, "minDelayTarget": 1, "maxDelayTarget": 2}}
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy)
    )

    recorder.fail(path, 5)  # AWS's default policy (3 retries) would give up before the 6th attempt
    message_id = sns.publish(TopicArn=topic_arn, Message="patience")["MessageId"]
    attempts = recorder.wait_for(path, "Notification", count=6)
    assert [a.json()["MessageId"] for a in attempts] == [message_id] * 6


def test_raw_message_delivery(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("raw"))["TopicArn"]
    path = f"/ok/{unique('raw')}"
    arn = subscribe_confirmed(sns, recorder, topic_arn, path)
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true")

    message_id = sns.publish(TopicArn=topic_arn, Message='{"just": "the message"}')["MessageId"]
    received = recorder.wait_for(path, "Notification")[0]
    assert received.body == b'{"just": "the message"}'
    assert received.headers["x-amz-sns-message-id"] == message_id
    assert received.headers["x-amz-sns-rawdelivery"] == "true"


# ------------------------------------------------------------------------------------------------
# Unsubscribe


def test_unsubscribe_url_unsubscribes_and_confirms(server: MotoServerProcess, sns: Any, recorder: Recorder):
    topic_arn = sns.create_topic(Name=unique("unsub"))["TopicArn"]
    path = f"/ok/{unique('unsub')}"
    arn = subscribe_confirmed(sns, recorder, topic_arn, path)
    sns.publish(TopicArn=topic_arn, Message="one")
    unsubscribe_url = recorder.wait_for(path, "Notification")[0].json()["UnsubscribeURL"]
    assert unsubscribe_url.startswith(server.endpoint + "/?Action=Unsubscribe&SubscriptionArn=")

    status, xml = http_get(unsubscribe_url)
    assert status == 200, xml
    assert "UnsubscribeResponse" in xml
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []
    goodbye = recorder.wait_for(path, "UnsubscribeConfirmation")[0]
    assert goodbye.headers["x-amz-sns-subscription-arn"] == arn
    assert goodbye.json()["Message"].startswith(f"You have chosen to deactivate subscription {arn}.")
    verify(goodbye.json(), server)

    sns.publish(TopicArn=topic_arn, Message="two")
    time.sleep(0.5)
    assert len(recorder.at(path, "Notification")) == 1

    # The UnsubscribeConfirmation's SubscribeURL undoes the unsubscribe, as on AWS.
    status, xml = http_get(goodbye.json()["SubscribeURL"])
    assert status == 200, xml
    listed = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [arn]


# ------------------------------------------------------------------------------------------------
# Patched server only


def test_other_protocols_keep_moto_behaviour(patched_server: MotoServerProcess):
    sns = sns_client(patched_server)
    sqs = boto3.client(
        "sqs",
        endpoint_url=patched_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    topic_arn = sns.create_topic(Name=unique("sqs"))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answer = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    assert answer["SubscriptionArn"].startswith(topic_arn + ":")
    sns.publish(TopicArn=topic_arn, Message="to the queue")
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert json.loads(messages[0]["Body"])["Message"] == "to the queue"


def test_signing_certificate_is_persisted_and_described(patched_server: MotoServerProcess, signing_dir: Any):
    with urllib.request.urlopen(patched_server.endpoint + "/_harness/sns", timeout=5) as response:
        info = json.load(response)
    cert_url = patched_server.endpoint + "/_harness/sns/SimpleNotificationService.pem"
    assert info["signing_cert_url"] == cert_url
    assert re.match(info["trusted_cert_url_pattern"], cert_url)
    assert info["signing_cert_path"] == str(signing_dir / "SimpleNotificationService.pem")
    status, served = http_get(cert_url)
    assert status == 200
    assert served == (signing_dir / "SimpleNotificationService.pem").read_text()


def test_client_errors_are_not_retried(patched_server: MotoServerProcess, recorder: Recorder):
    """AWS counts 4xx as the endpoint's final answer: no retry (5xx and connection errors are retried)."""
    sns = sns_client(patched_server)
    topic_arn = sns.create_topic(Name=unique("4xx"))["TopicArn"]
    path = f"/ok/{unique('4xx')}"
    subscribe_confirmed(sns, recorder, topic_arn, path)
    recorder.fail(path, 1, status=404)
    sns.publish(TopicArn=topic_arn, Message="refused")
    recorder.wait_for(path, "Notification")
    time.sleep(0.5)
    assert len(recorder.at(path, "Notification")) == 1


def test_subscribe_url_with_a_wrong_token_is_refused(patched_server: MotoServerProcess, recorder: Recorder):
    sns = sns_client(patched_server)
    topic_arn = sns.create_topic(Name=unique("badurl"))["TopicArn"]
    query = urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": "nope"})
    status, xml = http_get(f"{patched_server.endpoint}/?{query}")
    assert status == 400
    assert "<Code>InvalidParameter</Code>" in xml
