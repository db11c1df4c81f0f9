"""A real moto server, a real SES inbound, and an AWS account set up the way a team's Terraform would.

moto 5.2.5 does not implement the SES receipt-filter operations (Create/List/DeleteReceiptFilter:
HTTP 500 "not implemented"). `_receipt_filter_shim` adds them to the in-process moto server for
these tests only, so the harness is exercised through the real API; it stands down as soon as moto
(or the harness's own moto patches) provide the operations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.responses import ActionResult, EmptyResult
from moto.server import ThreadedMotoServer
from moto.ses.models import SESBackend
from moto.ses.responses import EmailResponse

from harness.aws.ses.inbound import SesInbound
from harness.core.context import RuntimeContext
from harness.core.ports import free_port

REGION = "us-east-1"
#: Small limit so the size tests stay fast; SES's real limit (40 MB) is the default.
MAX_BYTES = 300_000


def _receipt_filter_shim() -> bool:
    """Install Create/List/DeleteReceiptFilter on moto's SES if it lacks them. True if installed."""
    if hasattr(EmailResponse, "list_receipt_filters"):
        return False

    def _filters(backend: SESBackend) -> dict[str, dict[str, Any]]:
        if not hasattr(backend, "_harness_receipt_filters"):
            backend._harness_receipt_filters = {}  # type: ignore[attr-defined]
        return backend._harness_receipt_filters  # type: ignore[attr-defined]

    def create_receipt_filter(self: EmailResponse) -> ActionResult:
        item = self._get_param("Filter")
        _filters(self.backend)[item["Name"]] = item
        return EmptyResult()

    def delete_receipt_filter(self: EmailResponse) -> ActionResult:
        _filters(self.backend).pop(self._get_param("FilterName"), None)
        return EmptyResult()

    def list_receipt_filters(self: EmailResponse) -> ActionResult:
        return ActionResult({"Filters": list(_filters(self.backend).values())})

    EmailResponse.create_receipt_filter = create_receipt_filter  # type: ignore[attr-defined]
    EmailResponse.delete_receipt_filter = delete_receipt_filter  # type: ignore[attr-defined]
    EmailResponse.list_receipt_filters = list_receipt_filters  # type: ignore[attr-defined]
    return True


@dataclass
class Account:
    """The emulated AWS account: clients and the names the tests created."""

    endpoint: str
    clients: dict[str, Any]
    bucket: str
    topic_utf8: str
    topic_b64: str
    topic_alerts: str
    queues: dict[str, str]
    kms_key: str
    _seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def client(self, name: str) -> Any:
        return self.clients[name]

    def notifications(self, topic: str, message_id: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """SES notifications for `message_id` that reached the SQS subscriber of `topic` (SNS envelope
        unwrapped: each item has the SNS `MessageId`, `Subject` and the decoded notification `ses`)."""
        queue = self.queues[topic]
        sqs = self.clients["sqs"]
        seen = self._seen.setdefault(topic, [])
        deadline = time.monotonic() + timeout
        while True:
            found = [item for item in seen if item["ses"]["mail"]["messageId"] == message_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            response = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                envelope = json.loads(message["Body"])
                seen.append(
                    {
                        "MessageId": envelope.get("MessageId"),
                        "Subject": envelope.get("Subject"),
                        "ses": json.loads(envelope["Message"]),
                    }
                )
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    def objects(self, prefix: str = "") -> list[str]:
        listing = self.clients["s3"].list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]


def _rule(name: str, recipients: list[str] | None, actions: list[dict], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"Name": name, "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Optional"}
    if recipients is not None:
        rule["Recipients"] = recipients
    rule["Actions"] = actions
    rule.update(extra)
    return rule


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    _receipt_filter_shim()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        clients = {n: session.client(n, endpoint_url=endpoint) for n in ("ses", "s3", "sns", "sqs", "kms")}
        s3, sns, sqs, ses = clients["s3"], clients["sns"], clients["sqs"], clients["ses"]
        bucket = "mailstack-raw-mail"
        s3.create_bucket(Bucket=bucket)
        topics = {name: sns.create_topic(Name=name)["TopicArn"] for name in ("inbound", "inbound-b64", "alerts")}
        queues = {}
        for name, arn in topics.items():
            url = sqs.create_queue(QueueName=f"observe-{name}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            queues[arn] = url
        kms_key = clients["kms"].create_key(Description="ses inbound")["KeyMetadata"]["Arn"]
        for domain in ("example.com", "example.org"):
            ses.verify_domain_identity(Domain=domain)

        utf8, b64, alerts = topics["inbound"], topics["inbound-b64"], topics["alerts"]
        rules = [
            # example.com only (not sub-domains): AddHeader, then S3 (+ alert), then SNS (UTF-8).
            _rule(
                "store",
                ["example.com"],
                [
                    {"AddHeaderAction": {"HeaderName": "X-Harness-Rule", "HeaderValue": "store"}},
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "inbound/", "TopicArn": alerts}},
                    {"SNSAction": {"TopicArn": utf8, "Encoding": "UTF-8"}},
                ],
            ),
            # any sub-domain of example.com: S3 under sub/, SNS in Base64.
            _rule(
                "subdomains",
                [".example.com"],
                [
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "sub/"}},
                    {"SNSAction": {"TopicArn": b64, "Encoding": "Base64"}},
                ],
            ),
            # one address of an unverified domain, then Stop (with a notification).
            _rule(
                "vip",
                ["VIP@example.net"],
                [
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "vip/"}},
                    {"StopAction": {"Scope": "RuleSet", "TopicArn": alerts}},
                ],
            ),
            _rule("after-stop", ["example.net"], [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "net/"}}]),
            _rule(
                "disabled",
                ["disabled.example.org"],
                [
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "disabled/"}},
                ],
                Enabled=False,
            ),
            _rule(
                "bouncer",
                ["bounce.example.org"],
                [
                    {
                        "BounceAction": {
                            "TopicArn": alerts,
                            "SmtpReplyCode": "550",
                            "StatusCode": "5.1.1",
                            "Message": "Mailbox does not exist",
                            "Sender": "mailer-daemon@example.org",
                        }
                    },
                    {"StopAction": {"Scope": "RuleSet"}},
                ],
            ),
            _rule(
                "tls-only",
                ["secure.example.org"],
                [
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "secure/"}},
                ],
                TlsPolicy="Require",
            ),
            _rule(
                "encrypted",
                ["kms.example.org"],
                [
                    {
                        "S3Action": {
                            "BucketName": bucket,
                            "ObjectKeyPrefix": "kms/",
                            "KmsKeyArn": kms_key,
                            "TopicArn": alerts,
                        }
                    },
                ],
            ),
            _rule(
                "workmail",
                ["wm.example.org"],
                [
                    {"WorkmailAction": {"OrganizationArn": "arn:aws:workmail:us-east-1:123456789012:organization/m-1"}},
                    {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "wm/"}},
                ],
            ),
        ]
        ses.create_receipt_rule_set(RuleSetName="main")
        previous = None
        for rule in rules:
            kwargs = {"After": previous} if previous else {}
            ses.create_receipt_rule(RuleSetName="main", Rule=rule, **kwargs)
            previous = rule["Name"]
        ses.set_active_receipt_rule_set(RuleSetName="main")
        yield Account(endpoint, clients, bucket, utf8, b64, alerts, queues, kms_key)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def inbound(account: Account, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SesInbound]:
    state: Path = tmp_path_factory.mktemp("ses-inbound")
    server = SesInbound(RuntimeContext.for_emulator(account.endpoint, REGION, state), max_message_bytes=MAX_BYTES)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
