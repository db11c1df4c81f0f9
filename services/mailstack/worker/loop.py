"""The polling loop: receive a batch, ingest each message, delete it only after the commit.

Failures leave the message on the queue: it becomes visible again after the visibility timeout and
moves to the DLQ after maxReceiveCount. Permanent failures (undecodable body, missing object, an object
outside RAW_MAIL_BUCKET) are logged with their reason and also left there, so they end up in the DLQ where
operators see them. For a foreign bucket that is deliberate rather than deleting the message: retrying
cannot make it valid, but it stops after maxReceiveCount, and if RAW_MAIL_BUCKET itself is wrong (every
event "foreign") the DLQ keeps every announcement for a redrive once the setting is fixed, where deleting
would have dropped them.
An S3 event that waits for SES's receipt notification (see worker.ingest) is not deleted either: its
visibility timeout is set to the rest of the wait, and on its next receive it is a duplicate (deleted)
or, if the notification never came, ingested with the envelope the stored mail shows.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from botocore.client import BaseClient

from mailstack.worker.events import ObjectRef, UndecodableMessageError, decode_queue_message
from mailstack.worker.ingest import Ingestor, PermanentIngestError

logger = logging.getLogger(__name__)

RECEIVE_ERROR_BACKOFF_SECONDS = 5.0

_MESSAGES = {
    "ingested": "message ingested",
    "duplicate": "message already ingested",
    "envelope_replaced": "message already ingested: its envelope replaced by the SES notification's",
}


class Worker:
    def __init__(
        self,
        sqs: BaseClient,
        ingestor: Ingestor,
        queue_url: str,
        wait_time_seconds: int = 20,
        batch_size: int = 10,
        stop: threading.Event | None = None,
    ) -> None:
        self._sqs = sqs
        self._ingestor = ingestor
        self._queue_url = queue_url
        self._wait_time_seconds = wait_time_seconds
        self._batch_size = batch_size
        self.stop = stop or threading.Event()

    def run(self) -> None:
        """Poll until `stop` is set; the message in hand is finished first."""
        logger.info("worker started", extra={"queue_url": self._queue_url})
        while not self.stop.is_set():
            self.poll_once()
        logger.info("worker stopped")

    def poll_once(self) -> int:
        """Receive one batch (long poll) and handle it; returns the number of messages received."""
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._batch_size,
                WaitTimeSeconds=self._wait_time_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except Exception:
            logger.exception("receiving from the inbound queue failed", extra={"queue_url": self._queue_url})
            self.stop.wait(RECEIVE_ERROR_BACKOFF_SECONDS)
            return 0
        messages: list[dict[str, Any]] = response.get("Messages", [])
        for index, message in enumerate(messages):
            if self.stop.is_set():
                self._release(messages[index:])
                break
            self.handle(message)
        return len(messages)

    def handle(self, message: dict[str, Any]) -> bool:
        """Ingest every object the message names; delete it when all are committed. True if deleted."""
        started = time.monotonic()
        context: dict[str, Any] = {
            "sqs_message_id": message.get("MessageId"),
            "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)) or None,
        }
        try:
            decoded = decode_queue_message(message.get("Body", ""))
        except UndecodableMessageError as exc:
            logger.error(
                "permanent failure: message left for the DLQ",
                extra={**context, "reason": str(exc), "outcome": "permanent_failure"},
            )
            return False
        if decoded.is_test_event:
            deleted = self._delete(message, context)
            if deleted:
                logger.info("S3 test event deleted", extra={**context, "outcome": "test_event"})
            return deleted
        if not all(self._ingest(message, ref, context) for ref in decoded.objects):
            return False
        if not self._delete(message, context):
            return False
        logger.debug(
            "sqs message deleted",
            extra={
                **context,
                "objects": len(decoded.objects),
                "skipped_records": decoded.skipped_records,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return True

    def _ingest(self, message: dict[str, Any], ref: ObjectRef, context: dict[str, Any]) -> bool:
        """Ingest one object and log the outcome; False when the message must stay on the queue."""
        started = time.monotonic()
        context = {**context, "s3_bucket": ref.bucket, "s3_key": ref.key}
        try:
            result = self._ingestor.ingest(ref, first_receive=(context.get("receive_count") or 1) <= 1)
        except PermanentIngestError as exc:
            logger.error(
                "permanent failure: message left for the DLQ",
                extra={**context, "reason": str(exc), "outcome": "permanent_failure"},
            )
            return False
        except Exception as exc:
            logger.exception(
                "ingest failed: message left for redelivery",
                extra={**context, "reason": f"{type(exc).__name__}: {exc}", "outcome": "retry"},
            )
            return False
        if result.defer_seconds is not None:
            self._defer(message, result.defer_seconds, context)
            logger.info(
                "waiting for the SES receipt notification (the SMTP envelope): message left on the queue",
                extra={
                    **context,
                    "message_uuid": str(result.message_id),
                    "outcome": result.outcome,
                    "visible_again_in_seconds": result.defer_seconds,
                },
            )
            return False
        logger.info(
            _MESSAGES[result.outcome],
            extra={
                **context,
                "message_uuid": str(result.message_id),
                "attachments": result.attachments,
                "defects": result.defects,
                "outcome": result.outcome,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return True

    def _defer(self, message: dict[str, Any], seconds: int, context: dict[str, Any]) -> None:
        """Make the message visible again in `seconds` (if this fails, it is after the visibility timeout)."""
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
            )
        except Exception as exc:
            logger.warning(
                "changing the visibility of a deferred message failed; it returns after the visibility timeout",
                extra={**context, "reason": f"{type(exc).__name__}: {exc}"},
            )

    def _delete(self, message: dict[str, Any], context: dict[str, Any]) -> bool:
        """Delete after the commit. If that fails the message comes back and is a harmless duplicate."""
        try:
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as exc:
            logger.warning(
                "deleting the sqs message failed; it will be redelivered as a duplicate",
                extra={**context, "reason": f"{type(exc).__name__}: {exc}"},
            )
            return False
        return True

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make messages we will not handle (stopping) visible again right away."""
        try:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, m in enumerate(messages)
                ],
            )
        except Exception:
            logger.warning("could not release unhandled messages; they return after the visibility timeout")
        logger.info("stopping: released unhandled messages", extra={"released": len(messages)})
