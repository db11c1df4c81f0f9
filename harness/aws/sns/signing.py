"""The harness's SNS signing identity: an RSA key and a self-signed certificate, plus AWS's string to sign.

AWS signs every message it POSTs to an HTTP/HTTPS subscriber (SubscriptionConfirmation, Notification,
UnsubscribeConfirmation) with the key of a certificate published under ``SigningCertURL``. The harness does
the same with its own key pair, so a service under test runs its real signature check; it only has to trust
the harness's certificate URL (``SNS_TRUSTED_CERT_URL_PATTERN``) instead of ``sns.<region>.amazonaws.com``.

The key pair is created once and, when a directory is given (``HARNESS_SNS_SIGNING_DIR``), persisted there
so the harness can export the certificate and a restarted emulator keeps signing with the same key.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness.core.certificates import (
    build_certificate,
    certificate_pem,
    distinguished_name,
    private_key_pem,
    write_private,
    write_public,
)

CERT_FILE_NAME = "SimpleNotificationService.pem"
KEY_FILE_NAME = "SimpleNotificationService-key.pem"

# The fields AWS signs, in this (alphabetical) order; a field absent from the message is skipped.
# https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message-verify-message-signature.html
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")

SIGNATURE_VERSIONS = {"1": hashes.SHA1, "2": hashes.SHA256}
VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class SigningIdentity:
    """The key that signs and the certificate that verifies, with where they live on disk (if anywhere)."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    cert_path: Path | None = None

    @property
    def cert_pem(self) -> bytes:
        return certificate_pem(self.certificate)

    def sign(self, message: Mapping[str, str], signature_version: str = "1") -> str:
        """The base64 ``Signature`` AWS would put on `message` (SHA1withRSA for "1", SHA256withRSA for "2")."""
        algorithm = _algorithm(signature_version)
        signature = self.private_key.sign(string_to_sign(message).encode("utf-8"), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode("ascii")


def _algorithm(signature_version: str) -> hashes.HashAlgorithm:
    try:
        return SIGNATURE_VERSIONS[str(signature_version)]()
    except KeyError:
        raise ValueError(f"unknown SNS SignatureVersion {signature_version!r}: use '1' or '2'") from None


def string_to_sign(message: Mapping[str, str]) -> str:
    """AWS's canonical string: ``name\\nvalue\\n`` for each signed field present, in AWS's order."""
    kind = message.get("Type")
    if kind == "Notification":
        fields = NOTIFICATION_FIELDS
    elif kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        fields = CONFIRMATION_FIELDS
    else:
        raise ValueError(f"cannot sign an SNS message of Type {kind!r}")
    return "".join(f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None)


def create_identity(common_name: str = "mailstack-harness SNS signing") -> SigningIdentity:
    """A fresh RSA-2048 key and a self-signed certificate for it (valid ten years)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = build_certificate(subject=distinguished_name(common_name), public_key=key.public_key(), signing_key=key,
                             validity=VALIDITY, backdate=dt.timedelta(days=1))
    return SigningIdentity(private_key=key, certificate=cert)


def load_or_create(directory: Path | None) -> SigningIdentity:
    """The identity stored in `directory`, or a new one (saved there when `directory` is given)."""
    if directory is None:
        return create_identity()
    cert_path = directory / CERT_FILE_NAME
    key_path = directory / KEY_FILE_NAME
    if cert_path.is_file() and key_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key: delete the directory to regenerate")
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return SigningIdentity(private_key=key, certificate=cert, cert_path=cert_path)
    identity = create_identity()
    directory.mkdir(parents=True, exist_ok=True)
    write_private(key_path, private_key_pem(identity.private_key))
    write_public(cert_path, identity.cert_pem)
    return SigningIdentity(private_key=identity.private_key, certificate=identity.certificate, cert_path=cert_path)
