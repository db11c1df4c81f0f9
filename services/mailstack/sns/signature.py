"""SNS message signature verification, as the AWS documentation describes it.

The string to sign is `Name\\nValue\\n` for a fixed, sorted list of fields that depends on the message
type (Subject only when present). SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA, both
PKCS#1 v1.5. The certificate URL must match a trusted pattern before anything is fetched, and the
message must be fresh (its Timestamp at most an hour old), so a captured message cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mailstack.sns.certificates import CertificateError, CertificateStore

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_OPTIONAL_FIELDS = frozenset({"Subject"})

# How old a message may be. SNS stamps a message once and retries an HTTP/S delivery for at most 3,600 s in
# total ("The total policy retry time for an HTTP/S endpoint cannot be greater than 3,600 seconds",
# https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html), so a genuine delivery is never
# older than an hour; the SDK-style validators (e.g. validatesns) reject older ones as replays. Verifying the
# signature alone (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html) proves only
# that SNS sent the message once, not that it is being delivered now.
MAX_MESSAGE_AGE = timedelta(hours=1)
# Our clock may lag the one SNS stamped with; a message a little from the future is still fresh.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class MalformedMessageError(Exception):
    """The document is not an SNS message (wrong type, missing fields)."""


class SignatureVerificationError(Exception):
    """The message is not provably from SNS."""


class StaleMessageError(SignatureVerificationError):
    """The message is signed, but too old (or too far in the future) to be a delivery happening now."""


def is_clean_url(url: object) -> bool:
    """A string httpx can request as it is: no whitespace or control characters (a pattern ending in `$`
    also matches before a trailing newline, and `^https://sns...` says nothing about what follows)."""
    if not isinstance(url, str) or not url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return False
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return True


def trusted_url(url: object, pattern: re.Pattern[str]) -> bool:
    """`url` is a clean URL (see is_clean_url) that the trusted `pattern` matches."""
    return isinstance(url, str) and is_clean_url(url) and pattern.match(url) is not None


def message_time(message: Mapping[str, Any]) -> datetime:
    """The message's Timestamp (ISO 8601 with a zone, e.g. 2024-06-03T08:15:03.200Z)."""
    text = message.get("Timestamp")
    try:
        stamp = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise MalformedMessageError(f"SNS Timestamp {text!r} is not an ISO 8601 time with a zone")
    return stamp


def check_fresh(message: Mapping[str, Any], now: datetime) -> None:
    stamp = message_time(message)
    if stamp < now - MAX_MESSAGE_AGE:
        raise StaleMessageError(f"SNS message from {message['Timestamp']} is older than {MAX_MESSAGE_AGE}")
    if stamp > now + MAX_CLOCK_SKEW:
        raise StaleMessageError(f"SNS message from {message['Timestamp']} is dated in the future")


def _hash_for(version: object) -> hashes.HashAlgorithm:
    if version == "1":
        return hashes.SHA1()  # noqa: S303 - SNS SignatureVersion 1 is defined as SHA1withRSA
    if version == "2":
        return hashes.SHA256()
    raise SignatureVerificationError(f"unsupported SignatureVersion {version!r}")


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs for this message."""
    message_type = message.get("Type")
    if message_type not in MESSAGE_TYPES:
        raise MalformedMessageError(f"unknown SNS message Type {message_type!r}")
    fields = _NOTIFICATION_FIELDS if message_type == "Notification" else _CONFIRMATION_FIELDS
    lines: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name in _OPTIONAL_FIELDS:
                continue
            raise MalformedMessageError(f"SNS {message_type} without {name}")
        if not isinstance(value, str):
            raise MalformedMessageError(f"SNS field {name} is not a string")
        lines.append(f"{name}\n{value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate ("\\ud800" in the JSON) has no UTF-8 form
        raise MalformedMessageError("SNS message fields are not valid Unicode") from exc


class SnsSignatureVerifier:
    def __init__(self, trusted_cert_url: re.Pattern[str], certificates: CertificateStore | None = None) -> None:
        self._trusted_cert_url = trusted_cert_url
        self._certificates = certificates or CertificateStore()

    def verify(self, message: Mapping[str, Any]) -> None:
        """Return if the signature is valid and the message fresh; raise MalformedMessageError,
        SignatureVerificationError or StaleMessageError (a SignatureVerificationError)."""
        data = string_to_sign(message)
        algorithm = _hash_for(message.get("SignatureVersion"))
        check_fresh(message, datetime.now(UTC))
        cert_url = message.get("SigningCertURL") or message.get("SigningCertUrl")
        if not trusted_url(cert_url, self._trusted_cert_url):
            raise SignatureVerificationError(f"SigningCertURL {cert_url!r} is not trusted")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureVerificationError("Signature is not base64") from exc
        if not signature:
            raise SignatureVerificationError("Signature is empty")
        try:
            key = self._certificates.public_key(cert_url)
        except CertificateError as exc:
            raise SignatureVerificationError(str(exc)) from exc
        try:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        except InvalidSignature as exc:
            raise SignatureVerificationError("signature does not match the message") from exc
