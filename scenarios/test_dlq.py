"""A message the worker cannot handle goes to the dead-letter queue after maxReceiveCount receives, body
unchanged; once the cause is fixed, a redrive (StartMessageMoveTask) brings it back and the mail is ingested
exactly once.

The poison is real: an S3 ObjectCreated event, in the shape S3 sends, for a raw-mail object that does not
exist (yet). The worker cannot fetch it, logs a permanent failure and leaves the message, which comes back
after the visibility timeout. The fix is to store the object. Storing it makes S3 send its own
ObjectCreated event too, as on AWS, so after the redrive two deliveries name the same object: the mail
must still become exactly one message.

Every number comes from the emulated AWS: the inbound queue from the raw-mail bucket's notification,
maxReceiveCount and the DLQ from its RedrivePolicy. The inbound queue's visibility timeout (60 s) is lowered
for the test and restored in a `finally`; that changes a setting every scenario shares, and the test fills
and empties the DLQ, hence it disturbs both (see scenarios/conftest.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from harness.testing import EcsControl
from harness.testing.queue_worker import QueueWorker
from scenarios.test_ingest import (
    INGEST_TIMEOUT,
    inbound_notification,
    ingested,
    queue_url_of,
    s3_event,
    worker_log_entries,
)

pytestmark = [
    pytest.mark.scenario,
    pytest.mark.disturbs("inbound-queue", "inbound-dlq"),
    pytest.mark.depends_on("api-service", "database", "worker-service"),
]

FAST_VISIBILITY_TIMEOUT = 2  # seconds between the worker's attempts while the test runs
# The emulator (moto) applies the visibility timeout in force when a long poll starts, so every worker task's
# long poll must start again before a changed timeout takes effect: `QueueWorker.cycle_polls()`.


def _raw_mail_store(aws: Any) -> tuple[str, str]:
    """(bucket, key prefix) the active receipt rule stores mail under."""
    rules = aws.client("ses").describe_active_receipt_rule_set()["Rules"]
    stores = [
        (a["S3Action"]["BucketName"], a["S3Action"].get("ObjectKeyPrefix", ""))
        for rule in rules
        if rule.get("Enabled")
        for a in rule["Actions"]
        if "S3Action" in a
    ]
    assert stores, "no enabled receipt rule stores mail in S3"
    return stores[0]


def _peek(sqs: Any, queue_url: str, *, message_id: str | None = None, body: str | None = None) -> dict[str, Any] | None:
    """The visible message with this id (or body), if any; it stays visible (VisibilityTimeout 0) but, as
    with any receive, its ApproximateReceiveCount goes up by one."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["All"],
    )
    messages = response.get("Messages", [])
    return next((m for m in messages if m["MessageId"] == message_id or m["Body"] == body), None)


def _stored_mail(recipient: str) -> bytes:
    """A mail as SES stores it: its trace headers (envelope sender, `Received: ... for <recipient>`) first."""
    message = EmailMessage()
    message["From"] = "Late Sender <late@sender.example>"
    message["To"] = recipient
    message["Subject"] = f"stored after its event {uuid.uuid4().hex[:8]}"
    message["Date"] = "Fri, 14 Jun 2024 09:00:00 +0000"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@sender.example>"
    message.set_content("This mail's S3 event arrived before the mail itself.\n")
    trace = (
        "Return-Path: <late@sender.example>\r\n"
        "Received: from mx.sender.example (mx.sender.example [192.0.2.7])\r\n"
        " by inbound-smtp.us-east-1.amazonaws.com with SMTP id late0001\r\n"
        f" for {recipient};\r\n"
        " Fri, 14 Jun 2024 09:00:01 +0000 (UTC)\r\n"
    )
    return trace.encode() + message.as_bytes(policy=policy.SMTP)


def test_poison_message_goes_to_the_dlq_and_a_redrive_ingests_it_once(
    stack: Any, aws: Any, mail: Any, api: Any, db: Any, ecs: EcsControl, eventually: Callable[..., Any]
) -> None:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    bucket, prefix = _raw_mail_store(aws)
    notification = inbound_notification(aws, bucket)
    inbound_url = queue_url_of(aws, notification["QueueArn"])
    attributes = sqs.get_queue_attributes(QueueUrl=inbound_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    max_receives = int(redrive["maxReceiveCount"])
    dlq_arn = redrive["deadLetterTargetArn"]
    dlq_url = queue_url_of(aws, dlq_arn)
    original_timeout = attributes["VisibilityTimeout"]

    recipient = mail.address("late")
    raw = _stored_mail(recipient)
    key = f"{prefix}{uuid.uuid4().hex}"
    poison = s3_event(bucket, key, len(raw), uuid.uuid4().hex, notification.get("Id", "inbound"))

    worker = QueueWorker(ecs, str(stack.state.outputs["ecs_service_names"]["worker"]), inbound_url)
    sqs.set_queue_attributes(QueueUrl=inbound_url, Attributes={"VisibilityTimeout": str(FAST_VISIBILITY_TIMEOUT)})
    try:
        worker.cycle_polls()
        poison_id = sqs.send_message(QueueUrl=inbound_url, MessageBody=poison)["MessageId"]

        # Received exactly maxReceiveCount times, each a logged permanent failure, then in the DLQ unchanged.
        def dead_letter() -> tuple[dict[str, Any] | None, list[tuple[Any, ...]]]:
            attempts = worker_log_entries(stack.run_dir, sqs_message_id=poison_id)
            return _peek(sqs, dlq_url, message_id=poison_id), [(e["receive_count"], e["outcome"]) for e in attempts]

        dead, _ = eventually(
            dead_letter,
            lambda seen: seen[0] is not None,
            timeout=max_receives * (FAST_VISIBILITY_TIMEOUT + 5) + 30,
            interval=1.0,
            what=f"the poison event (SQS message {poison_id}) in the DLQ {dlq_arn} (observed: DLQ message, "
            "worker's (receive count, outcome) for it)",
        )
        assert dead["Body"] == poison, "the DLQ holds the message with a changed body"
        # The DLQ keeps the receive count; our own peek above is one more receive.
        assert int(dead["Attributes"]["ApproximateReceiveCount"]) == max_receives + 1
        attempts = worker_log_entries(stack.run_dir, sqs_message_id=poison_id)
        assert [(e["receive_count"], e["outcome"], e["s3_key"]) for e in attempts] == [
            (n, "permanent_failure", key) for n in range(1, max_receives + 1)
        ], attempts
        assert "does not exist" in attempts[-1]["reason"]
        assert db.execute("select count(*) from messages where raw_key = %s", (key,)).fetchone()[0] == 0

        # The fix: the object is stored (and S3 announces it with an event of its own).
        s3.put_object(Bucket=bucket, Key=key, Body=raw)
        message = ingested(api, eventually, recipient)
        assert message["raw"] == {"bucket": bucket, "key": key, "url": f"/v1/messages/{message['id']}/raw"}

        # The redrive: back to the queue it came from, as a new message with the same body.
        handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
        task = eventually(
            lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0],
            lambda t: t["Status"] != "RUNNING",
            timeout=30,
            what=f"the message move task {handle} finishing",
        )
        assert task["Status"] == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] >= 1, task
        assert _peek(sqs, dlq_url, body=poison) is None

        redriven = eventually(
            lambda: [
                e
                for e in worker_log_entries(stack.run_dir, s3_key=key)
                if e.get("sqs_message_id") not in (poison_id, None) and e["outcome"] != "ingested"
            ],
            timeout=INGEST_TIMEOUT,
            what="the worker handling the redriven event",
        )
        assert [(e["outcome"], e["receive_count"]) for e in redriven] == [("duplicate", 1)], redriven

        # Exactly once: one row, one ingest; and every delivery naming the object was deleted: with the short
        # visibility timeout still in force, an undeleted one would be back within seconds.
        outcomes = [e["outcome"] for e in worker_log_entries(stack.run_dir, s3_key=key)]
        assert outcomes.count("ingested") == 1, outcomes
        time.sleep(FAST_VISIBILITY_TIMEOUT * 3)
        assert [e["outcome"] for e in worker_log_entries(stack.run_dir, s3_key=key)] == outcomes
        assert _peek(sqs, dlq_url, body=poison) is None
        rows = db.execute("select count(*) from messages where raw_bucket = %s and raw_key = %s", (bucket, key))
        assert rows.fetchone()[0] == 1
    finally:
        sqs.set_queue_attributes(QueueUrl=inbound_url, Attributes={"VisibilityTimeout": original_timeout})
        worker.cycle_polls()  # the original timeout in force again before the next scenario sends mail
    restored = sqs.get_queue_attributes(QueueUrl=inbound_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
    assert restored["Attributes"]["VisibilityTimeout"] == original_timeout
    assert json.loads(restored["Attributes"]["RedrivePolicy"]) == redrive
