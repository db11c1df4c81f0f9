"""Ingest one S3 object: fetch, parse, store attachments, write the rows in one transaction.

The SMTP envelope (who the mail was delivered to, hence whose inboxes list it) is exact only in SES's
receipt notification: the stored mail names one recipient (SES's `Received: ... for <recipient>`). Both an
S3 ObjectCreated event and the S3 action's notification reach the inbound queue, in either order, so:

- an S3 event for an object SES stored (its key ends in the SES message id of its topmost Received
  header) that is not ingested yet waits for the notification: on its first receive, until
  `ses_notification_grace_seconds` after the object was stored, it is deferred (the caller makes the SQS
  message visible again then) and the notification, arriving meanwhile, ingests the mail with every
  recipient in one transaction; after the grace the event ingests it with the envelope the mail shows;
- a notification for a message already ingested (its event won after the grace, or a replay) replaces
  the envelope and the inbox listings with the notified ones (store.replace_envelope), under a row lock.

Only objects in RAW_MAIL_BUCKET are ingested: an event or notification naming any other bucket (the
attachments bucket, a bucket of another stack) is refused with ForeignBucketError, a permanent failure.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from psycopg_pool import ConnectionPool

from mailstack.mail import ParsedMail, parse_mail
from mailstack.worker import store
from mailstack.worker.attachment_keys import attachment_key
from mailstack.worker.events import ObjectRef
from mailstack.worker.ids import attachment_uuid, message_uuid

logger = logging.getLogger(__name__)

_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})

#: How long an S3 event for a mail SES stored waits for SES's notification (see the module docstring).
DEFAULT_SES_NOTIFICATION_GRACE_SECONDS = 30


class PermanentIngestError(Exception):
    """Retrying cannot help (the object is gone, ...): the message is left for the DLQ."""


class ForeignBucketError(PermanentIngestError):
    """The object is not in the raw-mail bucket: the worker never ingests it, however often it is retried."""


@dataclass(frozen=True)
class IngestResult:
    message_id: UUID
    created: bool
    attachments: int = 0
    defects: int = 0
    envelope_replaced: bool = False
    #: Set when the object was not ingested yet: make the SQS message visible again in this many seconds.
    defer_seconds: int | None = None

    @property
    def outcome(self) -> str:
        if self.defer_seconds is not None:
            return "deferred"
        if self.created:
            return "ingested"
        return "envelope_replaced" if self.envelope_replaced else "duplicate"


class Ingestor:
    def __init__(
        self,
        s3: BaseClient,
        pool: ConnectionPool,
        attachments_bucket: str,
        *,
        raw_mail_bucket: str,
        ses_notification_grace_seconds: float = DEFAULT_SES_NOTIFICATION_GRACE_SECONDS,
    ) -> None:
        self._s3 = s3
        self._pool = pool
        self._attachments_bucket = attachments_bucket
        self._raw_mail_bucket = raw_mail_bucket
        self._grace = ses_notification_grace_seconds

    def ingest(self, ref: ObjectRef, *, first_receive: bool = True, now: datetime | None = None) -> IngestResult:
        """Ingest `ref` (idempotent). `first_receive`: the SQS message is received for the first time (only
        then may an S3 event wait for SES's notification)."""
        self._check_ingestible(ref)
        message_id = message_uuid(ref.bucket, ref.key)
        with self._pool.connection() as conn:
            exists = store.message_exists(conn, ref.bucket, ref.key)
        if exists:
            if not ref.envelope_to:
                return IngestResult(message_id, created=False)
            with self._pool.connection() as conn, conn.transaction():
                replaced = store.replace_envelope(conn, ref.bucket, ref.key, ref.envelope_from, ref.envelope_to)
            return IngestResult(message_id, created=False, envelope_replaced=replaced)
        mail = parse_mail(self._fetch(ref))
        wait = self._wait_for_notification(ref, mail, first_receive, now or datetime.now(UTC))
        if wait is not None:
            return IngestResult(message_id, created=False, defer_seconds=wait)
        attachments = self._upload_attachments(message_id, mail)
        new_message = store.NewMessage(
            id=message_id,
            raw_bucket=ref.bucket,
            raw_key=ref.key,
            received_at=ref.event_time or datetime.now(UTC),
            mail=mail,
            envelope_from=ref.envelope_from if ref.envelope_to else mail.envelope_from,
            envelope_to=ref.envelope_to or mail.envelope_to,
            attachments=attachments,
        )
        replaced = False
        with self._pool.connection() as conn, conn.transaction():
            created = store.insert_message(conn, new_message)
            if not created and ref.envelope_to:
                # The S3 event ingested it meanwhile (the insert waited for its commit): the notified
                # envelope replaces the one the mail shows.
                replaced = store.replace_envelope(conn, ref.bucket, ref.key, ref.envelope_from, ref.envelope_to)
        return IngestResult(message_id, created, len(attachments), len(mail.defects), envelope_replaced=replaced)

    def _check_ingestible(self, ref: ObjectRef) -> None:
        """Refuse objects the worker must never ingest, before anything is fetched or written."""
        if ref.bucket != self._raw_mail_bucket:
            raise ForeignBucketError(
                f"s3://{ref.bucket}/{ref.key} is not in the raw-mail bucket {self._raw_mail_bucket!r} "
                "(RAW_MAIL_BUCKET): only mail stored there is ingested; check which bucket notifies this queue"
            )
        if "\x00" in ref.key:
            raise PermanentIngestError(
                f"s3://{ref.bucket}/{ref.key!r}: the object key contains NUL, which PostgreSQL text cannot "
                "store (SES never writes such keys)"
            )

    def _wait_for_notification(
        self, ref: ObjectRef, mail: ParsedMail, first_receive: bool, now: datetime
    ) -> int | None:
        """Seconds to defer an S3 event for a mail SES stored, or None to ingest it now."""
        if ref.envelope_to or not first_receive or self._grace <= 0 or ref.event_time is None:
            return None
        if not mail.ses_message_id or ref.key.rpartition("/")[2] != mail.ses_message_id:
            return None
        remaining = self._grace - (now - ref.event_time).total_seconds()
        if remaining <= 0:
            return None
        return max(1, min(math.ceil(remaining), math.ceil(self._grace)))

    def _fetch(self, ref: ObjectRef) -> bytes:
        try:
            response = self._s3.get_object(Bucket=ref.bucket, Key=ref.key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_OBJECT_CODES:
                raise PermanentIngestError(f"s3://{ref.bucket}/{ref.key} does not exist ({code})") from exc
            raise
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def _upload_attachments(self, message_id: UUID, mail: ParsedMail) -> tuple[store.StoredAttachment, ...]:
        stored: list[store.StoredAttachment] = []
        for index, attachment in enumerate(mail.attachments):
            key = attachment_key(message_id, index, attachment.filename, attachment.content_type)
            sha256 = attachment.sha256
            self._s3.put_object(
                Bucket=self._attachments_bucket,
                Key=key,
                Body=attachment.content,
                ContentType=attachment.content_type,
                Metadata={"sha256": sha256, "message-id": str(message_id)},
            )
            stored.append(
                store.StoredAttachment(
                    id=attachment_uuid(message_id, index),
                    position=index,
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    content_id=attachment.content_id,
                    inline=attachment.inline,
                    size=attachment.size,
                    sha256=sha256,
                    bucket=self._attachments_bucket,
                    key=key,
                )
            )
        return tuple(stored)
