"""The SES "Received" notification (what receipt-rule actions publish to SNS).

Shape (AWS "Contents of notifications for Amazon SES email receiving", and payloads SES sent):

    {"notificationType": "Received",
     "mail": {"timestamp", "source", "messageId", "destination", "headersTruncated",
              "headers": [{"name", "value"}...], "commonHeaders": {...}},
     "receipt": {"timestamp", "processingTimeMillis", "recipients",
                 "spamVerdict": {"status"}, "virusVerdict": {"status"}, "spfVerdict": {"status"},
                 "dkimVerdict": {"status"}, "dmarcVerdict": {"status"},
                 "action": {"type", "topicArn", ...type-specific fields}},
     "content": "<raw mail>"}          # SNS action only: UTF-8 text or Base64 per its Encoding

`action` per type: S3 {bucketName, objectKey (prefix + message id), kmsKeyArn?}, SNS {encoding:
"UTF8"|"BASE64"}, Bounce {smtpReplyCode, statusCode, message, sender}, Stop {}, Lambda
{functionArn, invocationType}, WorkMail {organizationArn}. `mail.destination` is the envelope
recipient list; `receipt.recipients` the recipients the rule matched. Published with the SNS
subject "Amazon SES Email Receipt Notification".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from harness.aws.ses.mime import Verdicts, common_headers, headers_for_notification, parse_headers

SUBJECT = "Amazon SES Email Receipt Notification"


def iso_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sns_encoding(value: str | None) -> str:
    """API `Encoding` ("UTF-8" | "Base64") → the notification's spelling ("UTF8" | "BASE64")."""
    return "BASE64" if (value or "").strip().lower() == "base64" else "UTF8"


def mail_object(
    *,
    message_id: str,
    received_at: datetime,
    mail_from: str,
    destination: Sequence[str],
    raw: bytes,
) -> dict[str, Any]:
    fields = parse_headers(raw)
    headers, truncated = headers_for_notification(fields)
    return {
        "timestamp": iso_millis(received_at),
        "source": mail_from,
        "messageId": message_id,
        "destination": list(destination),
        "headersTruncated": truncated,
        "headers": headers,
        "commonHeaders": common_headers(fields),
    }


def receipt_object(
    *,
    received_at: datetime,
    recipients: Sequence[str],
    verdicts: Verdicts,
    scanned: bool,
    action: Mapping[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    elapsed = max(0, int((now - received_at).total_seconds() * 1000))
    return {
        "timestamp": iso_millis(received_at),
        "processingTimeMillis": elapsed,
        "recipients": list(recipients),
        "spamVerdict": {"status": verdicts.spam.upper() if scanned else "DISABLED"},
        "virusVerdict": {"status": verdicts.virus.upper() if scanned else "DISABLED"},
        "spfVerdict": {"status": verdicts.spf.upper()},
        "dkimVerdict": {"status": verdicts.dkim.upper()},
        "dmarcVerdict": {"status": verdicts.dmarc.upper()},
        "action": dict(action),
    }


def received_notification(
    mail: Mapping[str, Any],
    receipt: Mapping[str, Any],
    content: bytes | None = None,
    encoding: str | None = None,
) -> dict[str, Any]:
    """The whole notification; `content` only for the SNS action, encoded per `encoding`."""
    body: dict[str, Any] = {"notificationType": "Received", "mail": dict(mail), "receipt": dict(receipt)}
    if content is not None:
        if sns_encoding(encoding) == "BASE64":
            body["content"] = base64.b64encode(content).decode("ascii")
        else:
            body["content"] = content.decode("utf-8", errors="replace")
    return body
