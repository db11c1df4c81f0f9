"""The SMTP envelope as far as the stored message shows it.

SES prepends `Return-Path` (envelope sender) and a `Received: ... by inbound-smtp.<region>.amazonaws.com
with SMTP id <SES message id> for <recipient>;` trace header that names ONE recipient, whatever the
number of recipients SES accepted; other MTAs add `X-Original-To` or `Delivered-To`. So the stored mail
is a fallback: the SES receipt notification carries the envelope exactly and takes precedence (see
worker.events and worker.ingest).
"""

from __future__ import annotations

import re
from email.message import Message

from mailstack.mail.text import clean_text

_FOR_CLAUSE = re.compile(r"\bfor\s+<?([^\s<>;@]+@[^\s<>;]+?)>?\s*;", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>]*)>")
_SES_SMTP_ID = re.compile(
    r"\bby\s+inbound-smtp\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\s+with\s+\S+\s+id\s+([^\s;]+)", re.IGNORECASE
)
_RECIPIENT_HEADERS = ("X-Original-To", "Delivered-To", "X-Envelope-To")


def _raw_values(message: Message, name: str) -> list[str]:
    return [clean_text(str(value)) for key, value in message.raw_items() if key.lower() == name.lower()]


def envelope_sender(message: Message) -> str | None:
    """The address in the first Return-Path header; "" for the null sender `<>`."""
    values = _raw_values(message, "Return-Path")
    if not values:
        return None
    value = " ".join(values[0].split())
    match = _ANGLE.search(value)
    return (match.group(1) if match else value).strip()


def envelope_recipients(message: Message) -> tuple[str, ...]:
    """Recipients named by delivery headers and the topmost Received header's `for` clause."""
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for value in _raw_values(message, name):
            match = _ANGLE.search(value)
            found.append((match.group(1) if match else value).strip())
    received = _raw_values(message, "Received")
    if received:
        match = _FOR_CLAUSE.search(" ".join(received[0].split()))
        if match:
            found.append(match.group(1))
    unique: dict[str, None] = {}
    for address in found:
        if "@" in address:
            unique.setdefault(address.lower(), None)
    return tuple(unique)


def ses_message_id(message: Message) -> str | None:
    """The SES message id (`with SMTP id ...`) when the topmost Received header is SES inbound's, else None.

    SES stores a received mail under `<prefix><SES message id>`, so a stored object whose key ends in
    this id was written by a receipt rule's S3 action (and SES also notifies its topic, if it has one).
    """
    received = _raw_values(message, "Received")
    if not received:
        return None
    match = _SES_SMTP_ID.search(" ".join(received[0].split()))
    return match.group(1) if match else None
