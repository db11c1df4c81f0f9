"""The SMTP envelope of a mail SES accepted for several recipients, whichever of its two queue messages
(the S3 ObjectCreated event, the S3 action's SES notification) the worker gets first.

The stored mail names one recipient (SES's `Received: ... for <first recipient>`); only the notification
names them all. Real PostgreSQL and moto, as in test_worker_ingest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from mailstack.aws import s3_client, sqs_client
from mailstack.config import DatabaseSettings
from mailstack.db import sync_pool
from mailstack.mail import parse_mail
from mailstack.worker.events import ObjectRef
from mailstack.worker.ingest import Ingestor
from mailstack.worker.loop import Worker

from harness.testing.service_rig import REGION, MailBuckets, s3_event
from tests.services.mail_factory import now_iso, ses_receipt_notification, ses_stored_mail, sns_envelope
from tests.services.test_worker_ingest import WorkerRig

pytestmark = pytest.mark.slow

GRACE = 2  # seconds an S3 event waits for the notification in these tests (30 by default)
SES_ID = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
KEY = f"inbound/{SES_ID}"
RECIPIENTS = ["member1@mail.acme.test", "member2@mail.acme.test", "Member3@Mail.Acme.Test"]
INBOXES = ["member1@mail.acme.test", "member2@mail.acme.test", "member3@mail.acme.test"]
SOURCE = "bounces@sender.example"


@pytest.fixture
def rig(database: DatabaseSettings, mail_buckets: MailBuckets, moto_server) -> Iterator[WorkerRig]:
    pool = sync_pool(database)
    ingestor = Ingestor(
        s3_client(REGION),
        pool,
        mail_buckets.attachments_bucket,
        raw_mail_bucket=mail_buckets.raw_mail_bucket,
        ses_notification_grace_seconds=GRACE,
    )
    worker = Worker(sqs_client(REGION, 0), ingestor, mail_buckets.queue_url, wait_time_seconds=0)
    try:
        yield WorkerRig(worker, mail_buckets, database, pool)
    finally:
        pool.close()


def notification(rig: WorkerRig, recipients: list[str] = RECIPIENTS) -> str:
    return ses_receipt_notification(rig.buckets.raw_mail_bucket, KEY, recipients, SOURCE)


def listed_in(rig: WorkerRig) -> dict[str, list[str]]:
    """Inbox address → raw keys of the messages it lists (what the API's inbox listing selects)."""
    rows = rig.query(
        "SELECT i.address, m.raw_key FROM inboxes i JOIN recipients r ON r.inbox_id = i.id "
        "JOIN messages m ON m.id = r.message_id GROUP BY i.address, m.raw_key ORDER BY i.address"
    )
    listed: dict[str, list[str]] = {}
    for row in rows:
        listed.setdefault(row["address"], []).append(row["raw_key"])
    return listed


def envelope_of(rig: WorkerRig) -> dict[str, object]:
    (message,) = rig.query("SELECT envelope_from, envelope_to FROM messages")
    envelope_rows = rig.query("SELECT address FROM recipients WHERE kind = 'envelope' ORDER BY position")
    return {**message, "rows": [r["address"] for r in envelope_rows]}


def outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.outcome for r in caplog.records if getattr(r, "outcome", None)]


def test_the_stored_mail_names_one_recipient_and_ses_message_id():
    parsed = parse_mail(ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    assert parsed.envelope_to == ("member1@mail.acme.test",)
    assert parsed.ses_message_id == SES_ID
    assert (
        parse_mail(
            ses_stored_mail(SES_ID, RECIPIENTS).replace(b"inbound-smtp.us-east-1.amazonaws.com", b"mx.other.example")
        ).ses_message_id
        is None
    )


def test_s3_event_first_waits_for_the_notification_which_lists_every_recipient(rig: WorkerRig, caplog):
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    rig.send(s3_event(rig.buckets.raw_mail_bucket, KEY, event_time=now_iso()))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        assert rig.worker.poll_once() == 1
    assert outcomes(caplog) == ["deferred"]
    assert rig.count("messages") == 0  # nothing listed with a partial envelope
    assert rig.queue_depth() == (0, 1)  # not deleted: back after the rest of the grace

    rig.send(notification(rig))  # raw message delivery: the bare SES notification
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mailstack"):
        assert rig.worker.poll_once() == 1
    assert outcomes(caplog) == ["ingested"]
    assert envelope_of(rig) == {
        "envelope_from": SOURCE,
        "envelope_to": [a.lower() for a in RECIPIENTS],
        "rows": [a.lower() for a in RECIPIENTS],
    }
    assert listed_in(rig) == {address: [KEY] for address in INBOXES}

    time.sleep(GRACE + 0.5)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
    assert outcomes(caplog) == ["duplicate"]  # the deferred event came back and was deleted
    assert rig.queue_depth() == (0, 0)
    assert rig.count("messages") == 1


def test_notification_first_then_the_s3_event_is_a_duplicate(rig: WorkerRig, caplog):
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    rig.send(sns_envelope(notification(rig)))  # also understood inside the SNS envelope
    rig.drain()
    rig.send(s3_event(rig.buckets.raw_mail_bucket, KEY, event_time=now_iso()))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
    assert outcomes(caplog) == ["duplicate"]
    assert listed_in(rig) == {address: [KEY] for address in INBOXES}
    assert rig.queue_depth() == (0, 0)


def test_after_the_grace_the_event_ingests_and_a_late_notification_replaces_the_envelope(rig: WorkerRig, caplog):
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    rig.send(s3_event(rig.buckets.raw_mail_bucket, KEY))  # stored long ago (its eventTime): no waiting
    rig.drain()
    assert listed_in(rig) == {"member1@mail.acme.test": [KEY]}  # what the stored mail shows

    rig.send(notification(rig))
    rig.send(notification(rig))  # a redelivery changes nothing more
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
    assert outcomes(caplog) == ["envelope_replaced", "duplicate"]
    assert listed_in(rig) == {address: [KEY] for address in INBOXES}
    assert envelope_of(rig)["rows"] == [a.lower() for a in RECIPIENTS]
    assert rig.count("messages") == 1
    assert rig.queue_depth() == (0, 0)


def test_the_notified_envelope_replaces_addresses_the_mail_claimed(rig: WorkerRig):
    forged = b"Delivered-To: ceo@mail.acme.test\r\n" + ses_stored_mail(SES_ID, RECIPIENTS, SOURCE)
    rig.put_mail(KEY, forged)
    rig.send(s3_event(rig.buckets.raw_mail_bucket, KEY))
    rig.drain()
    assert sorted(listed_in(rig)) == ["ceo@mail.acme.test", "member1@mail.acme.test"]
    rig.send(notification(rig, RECIPIENTS[1:]))
    rig.drain()
    assert listed_in(rig) == {"member2@mail.acme.test": [KEY], "member3@mail.acme.test": [KEY]}
    assert envelope_of(rig) == {
        "envelope_from": SOURCE,
        "envelope_to": [a.lower() for a in RECIPIENTS[1:]],
        "rows": [a.lower() for a in RECIPIENTS[1:]],
    }


def test_an_event_received_again_does_not_wait_any_more(rig: WorkerRig):
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    ingestor = rig.ingestor(grace=60)
    ref = ObjectRef(rig.buckets.raw_mail_bucket, KEY, event_time=datetime.now(UTC))
    assert ingestor.ingest(ref).defer_seconds in range(59, 61)
    assert ingestor.ingest(ref, now=datetime.now(UTC) + timedelta(seconds=61)).outcome == "ingested"
    with psycopg.connect(rig.database.conninfo()) as conn:
        conn.execute("DELETE FROM messages")
    assert ingestor.ingest(ref, first_receive=False).outcome == "ingested"


def test_objects_not_stored_by_ses_under_their_message_id_do_not_wait(rig: WorkerRig):
    ingestor = rig.ingestor(grace=60)
    rig.put_mail("inbound/replayed-copy", ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))  # key is not the SES id
    ref = ObjectRef(rig.buckets.raw_mail_bucket, "inbound/replayed-copy", event_time=datetime.now(UTC))
    assert ingestor.ingest(ref).outcome == "ingested"


@pytest.mark.parametrize("attempt", range(5))
def test_event_and_notification_at_the_same_time_end_with_every_recipient(rig: WorkerRig, attempt: int):
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    ingestor = rig.ingestor(grace=0)
    refs = [
        ObjectRef(rig.buckets.raw_mail_bucket, KEY),  # the S3 event, past its grace
        ObjectRef(rig.buckets.raw_mail_bucket, KEY, envelope_from=SOURCE, envelope_to=tuple(INBOXES)),
    ]
    if attempt % 2:
        refs.reverse()
    start = threading.Barrier(2)
    results: list[str] = []

    def run(ref: ObjectRef) -> None:
        start.wait()
        results.append(ingestor.ingest(ref).outcome)

    threads = [threading.Thread(target=run, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in (["duplicate", "ingested"], ["envelope_replaced", "ingested"])
    assert rig.count("messages") == 1
    assert listed_in(rig) == {address: [KEY] for address in INBOXES}
    assert envelope_of(rig)["rows"] == INBOXES


def test_a_nul_in_one_notified_recipient_loses_no_recipient(rig: WorkerRig, caplog):
    """SES notified a recipient PostgreSQL cannot store as text: the mail is still ingested once, from the
    notification, with every recipient; the NUL is stored as U+FFFD and that address gets no inbox."""
    notified = [*RECIPIENTS, "bad\x00guy@mail.acme.test"]
    rig.put_mail(KEY, ses_stored_mail(SES_ID, RECIPIENTS, SOURCE))
    rig.send(s3_event(rig.buckets.raw_mail_bucket, KEY, event_time=now_iso()))
    rig.send(sns_envelope(ses_receipt_notification(rig.buckets.raw_mail_bucket, KEY, notified, "bounce\x00s@x.test")))
    with caplog.at_level(logging.INFO, logger="mailstack"):
        rig.drain()
        time.sleep(GRACE + 0.5)
        rig.drain()
    assert sorted(outcomes(caplog)) == ["deferred", "duplicate", "ingested"]  # no retry, no permanent failure
    assert listed_in(rig) == {address: [KEY] for address in INBOXES}
    stored = [a.lower() for a in RECIPIENTS] + ["bad\ufffdguy@mail.acme.test"]
    assert envelope_of(rig) == {"envelope_from": "bounce\ufffds@x.test", "envelope_to": stored, "rows": stored}
    assert rig.queue_depth() == (0, 0)
    assert rig.queue_depth(rig.buckets.dlq_url) == (0, 0)
