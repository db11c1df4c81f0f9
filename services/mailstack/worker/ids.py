"""Deterministic ids: the same S3 object always becomes the same message, so a redelivered event
re-uploads attachments to the same keys and the database insert is a no-op."""

from __future__ import annotations

from uuid import UUID, uuid5

_NAMESPACE = UUID("7a0c6f1e-3f7b-4a51-9a53-2f0e8d1f6c42")


def message_uuid(bucket: str, key: str) -> UUID:
    return uuid5(_NAMESPACE, f"s3://{bucket}/{key}")


def attachment_uuid(message_id: UUID, index: int) -> UUID:
    return uuid5(message_id, f"attachment/{index}")
