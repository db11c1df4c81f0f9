"""One X.509 builder and key-file writer for the harness's certificates: the local CA and the leaves it issues
(`harness.core.ca`) and the SNS signing identity (`harness.aws.sns.signing`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ORGANIZATION = "mailstack harness"
BACKDATE = dt.timedelta(minutes=5)  # a peer whose clock is a little behind still accepts a fresh certificate

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def distinguished_name(common_name: str) -> x509.Name:
    """``CN=<common_name>, O=mailstack harness`` (CN at most 64 characters, as X.509 requires)."""
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
    ])


def key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """Digital signatures always; certificate and CRL signing for a CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def build_certificate(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    signing_key: PrivateKey,
    validity: dt.timedelta,
    issuer: x509.Name | None = None,
    ca: bool = False,
    extensions: Sequence[x509.ExtensionType] = (),
    backdate: dt.timedelta = BACKDATE,
) -> x509.Certificate:
    """A SHA-256-signed certificate valid from `backdate` ago for `validity`, self-signed unless `issuer` is
    given. Basic constraints and key usage (both critical) follow `ca`; `extensions` are added non-critical."""
    now = utc_now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(key_usage(signs_certificates=ca), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    """Write atomically, readable by the owner only (private keys)."""
    _write_atomically(path, data, 0o600)


def write_public(path: Path, data: bytes) -> None:
    _write_atomically(path, data, 0o644)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)
