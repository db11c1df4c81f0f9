"""The rule runner with fake AWS clients: skipped, failing and null-sender cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.aws.ses.mime import Verdicts
from harness.aws.ses.model import ReceiptConfig, VerifiedIdentities, rule_from_api
from harness.aws.ses.processor import InboundMail, ReceiptClients, ReceiptProcessor
from harness.aws.ses.records import JsonlLog


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        if Bucket == "missing":
            raise RuntimeError("NoSuchBucket")
        self.objects[(Bucket, Key)] = Body


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": f"sns-{len(self.published)}"}


def run(rules: list[dict], tmp_path: Path, mail_from: str = "a@sender.test") -> tuple[dict, FakeS3, JsonlLog]:
    s3, outbox = FakeS3(), JsonlLog(tmp_path / "outbox.jsonl")
    processor = ReceiptProcessor(
        region="us-east-1",
        clients=ReceiptClients(s3=s3, sns=FakeSns(), kms=None, sts=None),
        verdicts=Verdicts(),
        outbox=outbox,
    )
    config = ReceiptConfig("set", tuple(rule_from_api(r) for r in rules), verified=VerifiedIdentities.of(["x.test"]))
    mail = InboundMail(
        mail_from, ["r@x.test"], b"Subject: s\r\n\r\nbody\r\n", "127.0.0.1", "h", False, datetime.now(UTC)
    )
    return processor.process(config, mail, "mid"), s3, outbox


def test_added_header_reaches_actions_of_later_rules(tmp_path: Path):
    trace, s3, _ = run(
        [
            {
                "Name": "one",
                "Enabled": True,
                "Actions": [{"AddHeaderAction": {"HeaderName": "X-T", "HeaderValue": "1"}}],
            },
            {"Name": "two", "Enabled": True, "Actions": [{"S3Action": {"BucketName": "b"}}]},
        ],
        tmp_path,
    )
    assert [r["rule"] for r in trace["rules"]] == ["one", "two"]
    assert b"\r\nX-T: 1\r\nSubject: s\r\n" in s3.objects[("b", "mid")]


def test_lambda_is_skipped_and_a_failing_action_ends_processing(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    trace, s3, _ = run(
        [
            {
                "Name": "fn",
                "Enabled": True,
                "Actions": [
                    {"LambdaAction": {"FunctionArn": "arn:aws:lambda:us-east-1:1:function:f"}},
                    {"S3Action": {"BucketName": "missing"}},
                    {"S3Action": {"BucketName": "b"}},
                ],
            },
            {"Name": "later", "Enabled": True, "Actions": [{"S3Action": {"BucketName": "b", "ObjectKeyPrefix": "l/"}}]},
        ],
        tmp_path,
    )
    actions = trace["rules"][0]["actions"]
    assert [(a["type"], a["status"]) for a in actions] == [("Lambda", "skipped"), ("S3", "failed")]
    assert "function:f" in actions[0]["reason"]
    assert trace["abortedAt"] == "fn" and trace["stoppedBy"] is None
    assert trace["errors"] and "NoSuchBucket" in trace["errors"][0]
    assert s3.objects == {}
    assert any("'fn'" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_no_bounce_is_sent_for_a_null_sender(tmp_path: Path):
    trace, _, outbox = run(
        [
            {
                "Name": "b",
                "Enabled": True,
                "Actions": [
                    {
                        "BounceAction": {
                            "SmtpReplyCode": "550",
                            "StatusCode": "5.1.1",
                            "Message": "no",
                            "Sender": "m@x.test",
                        }
                    }
                ],
            }
        ],
        tmp_path,
        mail_from="",
    )
    assert len(outbox) == 0
    assert "null reverse-path" in trace["rules"][0]["actions"][0]["bounce"]
