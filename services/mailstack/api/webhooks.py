"""POST /v1/webhooks/aws/sns: Amazon SNS HTTP(S) deliveries.

Every message must carry a valid SNS signature (403 otherwise). SubscriptionConfirmation is confirmed
by fetching SubscribeURL, only when that URL matches the trusted pattern; Notification messages that
carry an SES "Received" notification are recorded in `sns_notifications`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from mailstack.api import queries
from mailstack.api.context import ApiContext, api_context
from mailstack.mail.text import clean_json, clean_text
from mailstack.sns.signature import (
    MESSAGE_TYPES,
    MalformedMessageError,
    SignatureVerificationError,
    StaleMessageError,
    trusted_url,
)

logger = logging.getLogger(__name__)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError; nesting too deep
        raise HTTPException(400, "body is not JSON") from exc
    if not isinstance(document, dict):
        raise HTTPException(400, "body is not an SNS message")
    return document


async def _verify(context: ApiContext, message: dict[str, Any], header_type: str | None) -> None:
    message_type = message.get("Type")
    if message_type not in MESSAGE_TYPES:
        raise HTTPException(400, f"unsupported SNS message type {message_type!r}")
    if header_type and header_type != message_type:
        raise HTTPException(400, "x-amz-sns-message-type does not match the message Type")
    for name in ("MessageId", "TopicArn"):  # an id and an ARN: never empty, never control characters
        value = message.get(name)
        if not isinstance(value, str) or not value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise HTTPException(400, f"SNS message {name} is missing or not a valid identifier")
    topics = context.settings.sns_topic_arns
    if topics and message.get("TopicArn") not in topics:
        raise HTTPException(403, "topic not accepted")
    try:
        await run_in_threadpool(context.sns_verifier.verify, message)
    except MalformedMessageError as exc:
        raise HTTPException(400, str(exc)) from exc
    except StaleMessageError as exc:
        logger.warning(
            "stale sns message rejected",
            extra={"reason": str(exc), "sns_message_id": message.get("MessageId"), "topic_arn": message["TopicArn"]},
        )
        raise HTTPException(403, str(exc)) from exc
    except SignatureVerificationError as exc:
        logger.warning(
            "sns message rejected",
            extra={
                "reason": str(exc),
                "sns_message_id": message.get("MessageId"),
                "topic_arn": message.get("TopicArn"),
            },
        )
        raise HTTPException(403, "invalid SNS signature") from exc


def _root_cause(exc: BaseException) -> str:
    """What went wrong, not the wrapper: the HTTP client reports a refused connection inside an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


async def _confirm_subscription(context: ApiContext, message: dict[str, Any]) -> JSONResponse:
    url = message.get("SubscribeURL")
    if not trusted_url(url, context.settings.sns_trusted_subscribe_url_pattern):
        logger.warning("SubscribeURL not trusted, subscription not confirmed", extra={"subscribe_url": url})
        raise HTTPException(403, "SubscribeURL is not trusted")
    try:
        response = await context.http.get(url, timeout=10.0)
    except Exception as exc:
        logger.error("confirming the subscription failed",
                     extra={"reason": _root_cause(exc), "topic_arn": message["TopicArn"]})
        raise HTTPException(502, "confirming the subscription failed") from exc
    if response.status_code != 200:
        logger.error(
            "confirming the subscription failed",
            extra={"status_code": response.status_code, "topic_arn": message["TopicArn"]},
        )
        raise HTTPException(502, f"confirming the subscription returned HTTP {response.status_code}")
    logger.info("sns subscription confirmed", extra={"topic_arn": message["TopicArn"]})
    return JSONResponse({"status": "confirmed"})


def _ses_notification(message: dict[str, Any]) -> dict[str, Any] | None:
    try:
        inner = json.loads(message["Message"])
    except (ValueError, TypeError, RecursionError):
        return None
    if isinstance(inner, dict) and inner.get("notificationType") == "Received":
        return inner
    return None


async def _notification(context: ApiContext, message: dict[str, Any]) -> JSONResponse:
    fields = {"sns_message_id": message["MessageId"], "topic_arn": message["TopicArn"]}
    ses = _ses_notification(message)
    if ses is None:
        logger.info("sns notification received", extra={**fields, "notification_type": None})
        return JSONResponse({"status": "received"})
    # Stored whole, with NUL (which jsonb and text refuse) as U+FFFD: a delivery SNS cannot retry into success.
    ses = clean_json(ses)
    mail = ses.get("mail") if isinstance(ses.get("mail"), dict) else {}
    ses_message_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
    async with context.pool.connection() as conn:
        created = await queries.record_sns_notification(
            conn, clean_text(message["MessageId"]), clean_text(message["TopicArn"]), "Received", ses_message_id, ses
        )
    logger.info(
        "ses receipt notification recorded" if created else "ses receipt notification already recorded",
        extra={**fields, "notification_type": "Received", "ses_message_id": ses_message_id},
    )
    return JSONResponse({"status": "recorded"})


async def sns_webhook(request: Request) -> JSONResponse:
    context = api_context(request)
    message = _parse(await request.body())
    await _verify(context, message, request.headers.get("x-amz-sns-message-type"))
    if message["Type"] == "SubscriptionConfirmation":
        return await _confirm_subscription(context, message)
    if message["Type"] == "UnsubscribeConfirmation":
        logger.info("sns unsubscribe confirmation received", extra={"topic_arn": message["TopicArn"]})
        return JSONResponse({"status": "unsubscribed"})
    return await _notification(context, message)
