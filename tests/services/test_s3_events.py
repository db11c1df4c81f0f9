"""Decoding SQS bodies: S3 events, the S3 test event, SNS envelopes, raw delivery, SES receipts."""

from __future__ import annotations

import json

import pytest
from mailstack.worker.events import UndecodableMessageError, decode_queue_message

from harness.testing.service_rig import s3_event, s3_record
from tests.services.mail_factory import S3_TEST_EVENT, ses_receipt_notification, sns_envelope


def test_key_is_url_decoded_with_plus_as_space():
    body = json.dumps({"Records": [s3_record("raw-mail", "inbound/a b+c=d.eml")]})
    assert '"inbound%2Fa+b%2Bc%3Dd.eml"' in body
    (ref,) = decode_queue_message(body).objects
    assert (ref.bucket, ref.key) == ("raw-mail", "inbound/a b+c=d.eml")
    assert ref.event_time is not None and ref.event_time.isoformat() == "2024-06-03T08:15:03.120000+00:00"


def test_non_ascii_keys_decode():
    (ref,) = decode_queue_message(s3_event("raw-mail", "inbound/Grüße ✉.eml")).objects
    assert ref.key == "inbound/Grüße ✉.eml"


def test_several_records_in_one_message():
    decoded = decode_queue_message(s3_event("raw-mail", "inbound/one", "inbound/two", "inbound/three"))
    assert [ref.key for ref in decoded.objects] == ["inbound/one", "inbound/two", "inbound/three"]


def test_records_other_than_object_created_are_skipped():
    body = json.dumps(
        {
            "Records": [
                s3_record("raw-mail", "inbound/gone", "ObjectRemoved:Delete"),
                s3_record("raw-mail", "inbound/new"),
            ]
        }
    )
    decoded = decode_queue_message(body)
    assert [ref.key for ref in decoded.objects] == ["inbound/new"]
    assert decoded.skipped_records == 1


def test_s3_test_event():
    decoded = decode_queue_message(S3_TEST_EVENT)
    assert decoded.is_test_event
    assert decoded.objects == ()


def test_sns_wrapped_s3_event():
    (ref,) = decode_queue_message(sns_envelope(s3_event("raw-mail", "inbound/x y.eml"))).objects
    assert ref.key == "inbound/x y.eml"


def test_sns_wrapped_test_event():
    assert decode_queue_message(sns_envelope(S3_TEST_EVENT)).is_test_event


def test_raw_message_delivery_is_the_bare_event():
    # SNS raw message delivery puts the published message itself in the SQS body.
    (ref,) = decode_queue_message(s3_event("raw-mail", "inbound/raw")).objects
    assert ref.key == "inbound/raw"


def test_ses_receipt_notification_carries_the_envelope():
    body = ses_receipt_notification("raw-mail", "inbound/abc123", ["Support@Mail.Acme.Test"], "alice@sender.example")
    (ref,) = decode_queue_message(sns_envelope(body)).objects
    assert (ref.bucket, ref.key) == ("raw-mail", "inbound/abc123")
    assert ref.envelope_to == ("support@mail.acme.test",)
    assert ref.envelope_from == "alice@sender.example"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"hello": "world"}', "not an S3 event"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "Message is not JSON"),
        (json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}), "without"),
        (json.dumps({"notificationType": "Received", "receipt": {"action": {"type": "SNS"}}}), "without an S3 action"),
    ],
)
def test_undecodable_bodies_name_the_reason(body: str, reason: str):
    with pytest.raises(UndecodableMessageError, match=reason):
        decode_queue_message(body)
