"""Decode an SQS message body into the S3 objects it announces.

Understood shapes:
- an S3 event notification (`{"Records": [...]}`, one or more records; keys are URL-encoded with
  `+` for spaces, so they are always decoded with `urllib.parse.unquote_plus`);
- the `s3:TestEvent` S3 sends when a notification configuration is saved;
- either of the above wrapped in an SNS envelope (`{"Type": "Notification", "Message": "<json>"}`),
  or delivered raw (SNS raw message delivery);
- an SES receipt notification (`"notificationType": "Received"`) whose action stored the mail in S3
  (the S3 action's `topic_arn` notification, no content), raw or in an SNS envelope; it also carries the
  exact SMTP envelope (every accepted recipient), which the stored mail does not (see worker.ingest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from mailstack.mail.text import clean_text


class UndecodableMessageError(Exception):
    """The body is not something the worker can ever act on."""


@dataclass(frozen=True)
class ObjectRef:
    """One stored mail to ingest."""

    bucket: str
    key: str
    event_time: datetime | None = None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueMessage:
    objects: tuple[ObjectRef, ...] = ()
    is_test_event: bool = False
    skipped_records: int = 0


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _s3_records(records: list[Any]) -> QueueMessage:
    objects: list[ObjectRef] = []
    skipped = 0
    for record in records:
        if not isinstance(record, dict):
            raise UndecodableMessageError("an S3 event record is not a JSON object")
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            skipped += 1
            continue
        try:
            bucket = record["s3"]["bucket"]["name"]
            encoded_key = record["s3"]["object"]["key"]
        except (KeyError, TypeError) as exc:
            raise UndecodableMessageError(f"S3 event record without {exc}") from exc
        if not isinstance(bucket, str) or not isinstance(encoded_key, str) or not bucket or not encoded_key:
            raise UndecodableMessageError("S3 event record with an empty bucket name or object key")
        objects.append(
            ObjectRef(bucket=bucket, key=unquote_plus(encoded_key), event_time=_parse_time(record.get("eventTime")))
        )
    return QueueMessage(objects=tuple(objects), skipped_records=skipped)


def _ses_receipt(notification: dict[str, Any]) -> QueueMessage:
    receipt = notification.get("receipt") or {}
    action = receipt.get("action") or {}
    mail = notification.get("mail") or {}
    if action.get("type") != "S3" or not action.get("bucketName") or not action.get("objectKey"):
        raise UndecodableMessageError("SES receipt notification without an S3 action (bucketName, objectKey)")
    recipients = receipt.get("recipients") or mail.get("destination") or []
    source = mail.get("source")
    return QueueMessage(
        objects=(
            ObjectRef(
                bucket=str(action["bucketName"]),
                key=str(action["objectKey"]),
                event_time=_parse_time(mail.get("timestamp")),
                envelope_from=clean_text(source) if isinstance(source, str) else None,
                # Kept whole (one bad address must not cost the others their delivery), NUL made storable.
                envelope_to=tuple(clean_text(address).lower() for address in recipients if isinstance(address, str)),
            ),
        )
    )


def _decode(document: object, wrapped: bool) -> QueueMessage:
    if not isinstance(document, dict):
        raise UndecodableMessageError("body is JSON but not an object")
    if document.get("Type") == "Notification" and "Message" in document and not wrapped:
        inner = document["Message"]
        try:
            return _decode(json.loads(inner) if isinstance(inner, str) else inner, wrapped=True)
        except json.JSONDecodeError as exc:
            raise UndecodableMessageError("SNS notification whose Message is not JSON") from exc
    if document.get("Event") == "s3:TestEvent":
        return QueueMessage(is_test_event=True)
    if isinstance(document.get("Records"), list):
        return _s3_records(document["Records"])
    if document.get("notificationType") == "Received":
        return _ses_receipt(document)
    raise UndecodableMessageError("not an S3 event, S3 test event, SES receipt notification or SNS envelope of one")


def decode_queue_message(body: str) -> QueueMessage:
    """Decode one SQS message body; raises UndecodableMessageError for anything else."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise UndecodableMessageError("body is not JSON") from exc
    return _decode(document, wrapped=False)
