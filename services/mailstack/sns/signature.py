"""SNS message signature verification, as the AWS documentation describes it.

The string to sign is `Name\\nValue\\n` for a fixed, sorted list of fields that depends on the message
type (Subject only when present). SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA, both
PKCS#1 v1.5. The certificate URL must match a trusted pattern before anything is fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mailstack.sns.certificates import CertificateError, CertificateStore

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_OPTIONAL_FIELDS = frozenset({"Subject"})


class MalformedMessageError(Exception):
    """The document is not an SNS message (wrong type, missing fields)."""


class SignatureVerificationError(Exception):
    """The message is not provably from SNS."""


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
    return "".join(lines).encode("utf-8")


class SnsSignatureVerifier:
    def __init__(self, trusted_cert_url: re.Pattern[str], certificates: CertificateStore | None = None) -> None:
        self._trusted_cert_url = trusted_cert_url
        self._certificates = certificates or CertificateStore()

    def verify(self, message: Mapping[str, Any]) -> None:
        """Return if the signature is valid; raise MalformedMessageError or SignatureVerificationError."""
        data = string_to_sign(message)
        algorithm = _hash_for(message.get("SignatureVersion"))
        cert_url = message.get("SigningCertURL") or message.get("SigningCertUrl")
        if not isinstance(cert_url, str) or not self._trusted_cert_url.match(cert_url):
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
