"""The worker against a real PostgreSQL and a real moto server (no mocks of psycopg or boto3)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from mailstack.aws import s3_client, sqs_client
from mailstack.config import DatabaseSettings, load_worker_settings
from mailstack.db import sync_pool
from mailstack.mail import parse_mail
from mailstack.worker.ingest import Ingestor
from mailstack.worker.loop import Worker
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from harness.testing.service_rig import REGION, MailBuckets, database_environment, s3_event
from tests.services.conftest import MAIL_FIXTURES
from tests.services.mail_factory import large_mail, ses_receipt_notification, simple_mail, sns_envelope

pytestmark = pytest.mark.slow


@dataclass
class WorkerRig:
    worker: Worker
    buckets: MailBuckets
    database: DatabaseSettings
    pool: ConnectionPool

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    def ingestor(self, grace: float = 0) -> Ingestor:
        """An Ingestor of this rig's buckets and database (S3 events wait `grace` s for SES's notification)."""
        return Ingestor(
            s3_client(REGION),
            self.pool,
            self.buckets.attachments_bucket,
            raw_mail_bucket=self.buckets.raw_mail_bucket,
            ses_notification_grace_seconds=grace,
        )

    def put_mail(self, key: str, raw: bytes) -> None:
        self.s3.put_object(Bucket=self.buckets.raw_mail_bucket, Key=key, Body=raw)

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.buckets.queue_url, MessageBody=body)

    def drain(self, max_polls: int = 10) -> None:
        """Poll until a poll returns nothing."""
        for _ in range(max_polls):
            if self.worker.poll_once() == 0:
                return

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.database.conninfo(), row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) AS n FROM {table}")[0]["n"])

    def queue_depth(self, queue_url: str | None = None) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.buckets.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def make_rig(database: DatabaseSettings, buckets: MailBuckets, base_environment: dict[str, str]) -> Iterator[WorkerRig]:
    settings = load_worker_settings(
        {
            **base_environment,
            **database_environment(database),
            **buckets.worker_environment(),
            "WORKER_WAIT_TIME_SECONDS": "0",
            "WORKER_BATCH_SIZE": "10",
        }
    )
    pool = sync_pool(settings.database)
    worker = Worker(
        sqs=sqs_client(settings.common.region, settings.wait_time_seconds),
        ingestor=Ingestor(
            s3_client(settings.common.region),
            pool,
            settings.attachments_bucket,
            raw_mail_bucket=settings.raw_mail_bucket,
        ),
        queue_url=settings.inbound_queue_url,
        wait_time_seconds=settings.wait_time_seconds,
        batch_size=settings.batch_size,
    )
    try:
        yield WorkerRig(worker, buckets, database, pool)
    finally:
        pool.close()


@pytest.fixture
def rig(database, mail_buckets, base_environment) -> Iterator[WorkerRig]:
    yield from make_rig(database, mail_buckets, base_environment)


@pytest.fixture
def fast_redrive_rig(database, base_environment, moto_server) -> Iterator[WorkerRig]:
    yield from make_rig(database, MailBuckets.create(visibility_timeout=1, max_receive_count=2), base_environment)


def test_one_object_and_its_s3_notification_become_one_row_set(rig: WorkerRig):
    queue_arn = rig.sqs.get_queue_attributes(QueueUrl=rig.buckets.queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rig.s3.put_bucket_notification_configuration(
        Bucket=rig.buckets.raw_mail_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbound/"}]}},
                }
            ]
        },
    )
    key = "inbound/a b+c=d.eml"  # S3 sends it as inbound%2Fa+b%2Bc%3Dd.eml
    raw = (MAIL_FIXTURES / "attachments.eml").read_bytes()
    rig.put_mail(key, raw)

    rig.drain()

    (message,) = rig.query("SELECT * FROM messages")
    assert (message["raw_bucket"], message["raw_key"]) == (rig.buckets.raw_mail_bucket, key)
    assert message["subject"] == "Your invoice and usage report"
    assert message["message_id_header"] == "<inv-88231@vendor.example>"
    assert message["envelope_from"] == "billing@vendor.example"
    assert message["envelope_to"] == ["accounts@mail.acme.test"]
    assert message["size_bytes"] == len(raw)
    assert message["text_body"] == "Please find your invoice and the usage report attached.\n"
    assert ["Subject", "Your invoice and usage report"] in message["headers"]

    recipients = rig.query("SELECT kind, address, inbox_id FROM recipients ORDER BY kind")
    assert [(r["kind"], r["address"]) for r in recipients] == [
        ("envelope", "accounts@mail.acme.test"),
        ("to", "accounts@mail.acme.test"),
    ]
    (inbox,) = rig.query("SELECT i.id, i.address, d.name FROM inboxes i JOIN domains d ON d.id = i.domain_id")
    assert (inbox["address"], inbox["name"]) == ("accounts@mail.acme.test", "mail.acme.test")
    assert {r["inbox_id"] for r in recipients} == {inbox["id"]}

    attachments = rig.query("SELECT * FROM attachments ORDER BY position")
    assert [a["filename"] for a in attachments] == [
        "invoice-88231.pdf",
        "Verbrauch Müller Juni.csv",
        "../../../etc/passwd",
    ]
    for attachment in attachments:
        assert attachment["s3_key"].startswith(f"attachments/{message['id']}/")
        assert ".." not in attachment["s3_key"]
        stored = rig.s3.get_object(Bucket=attachment["s3_bucket"], Key=attachment["s3_key"])["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == attachment["sha256"]
        assert len(stored) == attachment["size_bytes"]
    assert attachments[2]["s3_key"].endswith("/2-passwd")
    assert rig.queue_depth() == (0, 0)  # the s3:TestEvent and the object event were both deleted


def test_the_same_event_twice_is_still_one_message(rig: WorkerRig):
    rig.put_mail("inbound/dup-1", (MAIL_FIXTURES / "inline-image.eml").read_bytes())
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/dup-1"))
    rig.drain()
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/dup-1"))
    rig.send(sns_envelope(s3_event(rig.buckets.raw_mail_bucket, "inbound/dup-1")))
    rig.drain()
    assert rig.count("messages") == 1
    assert rig.count("attachments") == 1
    assert rig.count("recipients") == 1
    assert rig.queue_depth() == (0, 0)


def test_concurrent_duplicates_write_one_message(rig: WorkerRig):
    from concurrent.futures import ThreadPoolExecutor

    from mailstack.worker.events import ObjectRef

    rig.put_mail("inbound/race", (MAIL_FIXTURES / "many-recipients.eml").read_bytes())
    ingestor = rig.ingestor()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda _: ingestor.ingest(ObjectRef(rig.buckets.raw_mail_bucket, "inbound/race")), range(2))
        )
    assert sorted(r.created for r in results) == [False, True]
    assert rig.count("messages") == 1
    assert rig.count("recipients") == 62
    assert rig.count("inboxes") == 62  # no envelope recorded: every To/Cc/Bcc address is an inbox


def test_missing_object_is_logged_and_left_for_the_dlq(fast_redrive_rig: WorkerRig, caplog):
    rig = fast_redrive_rig
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/never-stored"))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        assert rig.worker.poll_once() == 1
    (record,) = [r for r in caplog.records if getattr(r, "outcome", None) == "permanent_failure"]
    assert record.s3_key == "inbound/never-stored"
    assert record.sqs_message_id
    assert "does not exist (NoSuchKey)" in record.reason
    assert rig.queue_depth() == (0, 1)  # received, not deleted

    time.sleep(1.2)
    assert rig.worker.poll_once() == 1  # second receive (maxReceiveCount 2)
    time.sleep(1.2)
    assert rig.worker.poll_once() == 0  # moto moves it to the DLQ on the next receive attempt
    assert rig.queue_depth() == (0, 0)
    assert rig.queue_depth(rig.buckets.dlq_url) == (1, 0)
    assert rig.count("messages") == 0


def test_events_for_other_buckets_are_refused_and_end_in_the_dlq(fast_redrive_rig: WorkerRig, caplog):
    rig = fast_redrive_rig
    foreign = rig.buckets.attachments_bucket  # an object the worker can read, in a bucket it must not ingest
    rig.s3.put_object(Bucket=foreign, Key="inbound/planted", Body=simple_mail("planted"))
    rig.send(s3_event(foreign, "inbound/planted"))
    rig.send(sns_envelope(ses_receipt_notification(foreign, "inbound/planted", ["a@mail.acme.test"], "x@y.test")))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        assert rig.worker.poll_once() == 2
    refused = [r for r in caplog.records if getattr(r, "outcome", None) == "permanent_failure"]
    assert [r.s3_bucket for r in refused] == [foreign, foreign]
    assert all(f"not in the raw-mail bucket {rig.buckets.raw_mail_bucket!r} (RAW_MAIL_BUCKET)" in r.reason
               for r in refused)
    assert rig.count("messages") == 0
    assert rig.queue_depth() == (0, 2)  # not deleted: a permanent failure goes to the DLQ, where operators see it

    time.sleep(1.2)
    assert rig.worker.poll_once() == 2  # second receive (maxReceiveCount 2), refused again
    time.sleep(1.2)
    assert rig.worker.poll_once() == 0  # then moved to the DLQ, not retried forever
    assert rig.queue_depth(rig.buckets.dlq_url) == (2, 0)
    assert rig.count("messages") == 0


NUL_MAIL = (
    b"Return-Path: <bou\x00nce@sender.test>\r\n"
    b"From: Ev\x00il <ev\x00il@sender.test>\r\n"
    b"To: a\x00b@mail.acme.test, ok@mail.acme.test\r\n"
    b"Subject: sub\x00ject\r\n"
    b"Message-ID: <id\x00@sender.test>\r\n"
    b"X-Trace: v\x00alue\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nbody\x00text\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>h\x00tml</p>\r\n"
    b'--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <c\x00id>\r\n'
    b'Content-Disposition: attachment; filename="f\x00.bin"\r\n\r\n\x00\x01\r\n'
    b"--b--\r\n"
)


def test_nul_anywhere_in_a_stored_mail_is_stored_as_u_fffd(rig: WorkerRig, caplog):
    rig.put_mail("inbound/nul", NUL_MAIL)
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/nul"))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
    assert [r.outcome for r in caplog.records if getattr(r, "outcome", None)] == ["ingested"]
    (message,) = rig.query("SELECT * FROM messages")
    assert message["subject"] == "sub\ufffdject"
    assert message["message_id_header"] == "<id\ufffd@sender.test>"
    assert message["envelope_from"] == "bou\ufffdnce@sender.test"
    assert message["text_body"].startswith("body\ufffdtext")
    assert "h\ufffdtml" in message["html_body"]
    assert "\x00" not in json.dumps(message["headers"]) + json.dumps(message["defects"])
    recipients = rig.query("SELECT kind, address, inbox_id FROM recipients WHERE kind = 'to' ORDER BY position")
    assert [r["address"] for r in recipients] == ["a\ufffdb@mail.acme.test", "ok@mail.acme.test"]
    assert [r["address"] for r in rig.query("SELECT address FROM inboxes")] == ["ok@mail.acme.test"]
    (attachment,) = rig.query("SELECT filename, content_id, size_bytes FROM attachments")
    assert attachment == {"filename": "f\ufffd.bin", "content_id": "c\ufffdid", "size_bytes": 2}
    assert rig.queue_depth() == (0, 0)


def test_undecodable_body_is_logged_and_not_deleted(rig: WorkerRig, caplog):
    rig.send("this is not an event")
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.worker.poll_once()
    (record,) = [r for r in caplog.records if getattr(r, "outcome", None) == "permanent_failure"]
    assert record.reason == "body is not JSON"
    assert rig.queue_depth() == (0, 1)


def test_failure_writes_nothing_and_the_redelivery_succeeds(fast_redrive_rig: WorkerRig, caplog):
    rig = fast_redrive_rig
    rig.s3.delete_bucket(Bucket=rig.buckets.attachments_bucket)  # attachment upload will fail
    rig.put_mail("inbound/retry", (MAIL_FIXTURES / "attachments.eml").read_bytes())
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/retry"))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.worker.poll_once()
    assert any(getattr(r, "outcome", None) == "retry" for r in caplog.records)
    assert rig.count("messages") == 0
    assert rig.queue_depth() == (0, 1)

    rig.s3.create_bucket(Bucket=rig.buckets.attachments_bucket)
    time.sleep(1.2)
    assert rig.worker.poll_once() == 1
    assert rig.count("messages") == 1
    assert rig.count("attachments") == 3
    assert rig.queue_depth() == (0, 0)


def test_several_records_in_one_sqs_message(rig: WorkerRig):
    keys = [f"inbound/batch-{i}" for i in range(3)]
    for key in keys:
        rig.put_mail(key, simple_mail(f"batch {key}"))
    rig.send(s3_event(rig.buckets.raw_mail_bucket, *keys))
    rig.drain()
    assert sorted(r["raw_key"] for r in rig.query("SELECT raw_key FROM messages")) == keys
    assert rig.queue_depth() == (0, 0)


def test_ses_receipt_notification_supplies_the_envelope(rig: WorkerRig):
    rig.put_mail("inbound/ses-1", (MAIL_FIXTURES / "many-recipients.eml").read_bytes())
    notification = ses_receipt_notification(
        rig.buckets.raw_mail_bucket, "inbound/ses-1", ["member07@mail.acme.test"], "bounce@acme.test"
    )
    rig.send(sns_envelope(notification))
    rig.drain()
    (message,) = rig.query("SELECT envelope_from, envelope_to FROM messages")
    assert message == {"envelope_from": "bounce@acme.test", "envelope_to": ["member07@mail.acme.test"]}
    assert [r["address"] for r in rig.query("SELECT address FROM inboxes")] == ["member07@mail.acme.test"]


@pytest.mark.parametrize("name", sorted(path.name for path in MAIL_FIXTURES.glob("*.eml")))
def test_every_fixture_mail_is_ingested(rig: WorkerRig, name: str):
    raw = (MAIL_FIXTURES / name).read_bytes()
    rig.put_mail(f"inbound/{name}", raw)
    rig.send(s3_event(rig.buckets.raw_mail_bucket, f"inbound/{name}"))
    rig.drain()
    parsed = parse_mail(raw)
    (message,) = rig.query("SELECT subject, text_body, html_body, defects FROM messages")
    assert message["subject"] == parsed.subject
    assert message["text_body"] == parsed.text_body
    assert message["html_body"] == parsed.html_body
    assert message["defects"] == list(parsed.defects)
    assert rig.count("attachments") == len(parsed.attachments)
    assert rig.queue_depth() == (0, 0)


def test_large_mail(rig: WorkerRig):
    raw = large_mail(3_000_000)
    rig.put_mail("inbound/large", raw)
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/large"))
    rig.drain()
    (message,) = rig.query("SELECT size_bytes FROM messages")
    assert message["size_bytes"] == len(raw)
    (attachment,) = rig.query("SELECT size_bytes FROM attachments")
    assert attachment["size_bytes"] > 2_500_000


def test_stop_releases_messages_not_yet_handled(rig: WorkerRig):
    for i in range(3):
        rig.send(s3_event(rig.buckets.raw_mail_bucket, f"inbound/not-there-{i}"))
    rig.worker.stop.set()
    assert rig.worker.poll_once() == 3
    assert rig.queue_depth() == (3, 0)  # visible again right away


def test_ingest_is_logged_with_sqs_message_id_and_s3_key(rig: WorkerRig, caplog):
    rig.put_mail("inbound/log me", simple_mail("log"))
    rig.send(s3_event(rig.buckets.raw_mail_bucket, "inbound/log me"))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
    (record,) = [r for r in caplog.records if getattr(r, "outcome", None) == "ingested"]
    assert record.s3_key == "inbound/log me"
    assert record.sqs_message_id
    json.dumps(record.__dict__, default=str)
