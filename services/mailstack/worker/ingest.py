"""Ingest one S3 object: fetch, parse, store attachments, write the rows in one transaction."""

from __future__ import annotations

import logging
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


class PermanentIngestError(Exception):
    """Retrying cannot help (the object is gone, ...): the message is left for the DLQ."""


@dataclass(frozen=True)
class IngestResult:
    message_id: UUID
    created: bool
    attachments: int = 0
    defects: int = 0


class Ingestor:
    def __init__(self, s3: BaseClient, pool: ConnectionPool, attachments_bucket: str) -> None:
        self._s3 = s3
        self._pool = pool
        self._attachments_bucket = attachments_bucket

    def ingest(self, ref: ObjectRef) -> IngestResult:
        message_id = message_uuid(ref.bucket, ref.key)
        with self._pool.connection() as conn:
            if store.message_exists(conn, ref.bucket, ref.key):
                return IngestResult(message_id, created=False)
        mail = parse_mail(self._fetch(ref))
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
        with self._pool.connection() as conn, conn.transaction():
            created = store.insert_message(conn, new_message)
        return IngestResult(message_id, created, len(attachments), len(mail.defects))

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
