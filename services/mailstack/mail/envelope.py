"""The SMTP envelope as far as the stored message shows it.

SES prepends `Return-Path` (envelope sender) and a `Received: ... for <recipient>;` trace header;
other MTAs add `X-Original-To` or `Delivered-To`. The SES receipt notification, when the worker gets
one, carries the envelope exactly and takes precedence (see worker.events).
"""

from __future__ import annotations

import re
from email.message import Message

from mailstack.mail.text import clean_text

_FOR_CLAUSE = re.compile(r"\bfor\s+<?([^\s<>;@]+@[^\s<>;]+?)>?\s*;", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>]*)>")
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
