"""A local certificate authority persisted in a state directory and reused across runs.

Clients trust `LocalCA.cert_path` (e.g. `httpx.Client(verify=ca.cert_path)`); servers get certificates
from `issue_server_certificate`, which are re-issued on every call (cheap: EC P-256 keys).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.core.errors import HarnessError

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class IssuedCertificate:
    cert_path: Path
    key_path: Path
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (private keys)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{cleaned or 'cert'}-{digest}"


class LocalCA:
    """The harness's own CA: `<state_dir>/ca.pem` + `<state_dir>/ca-key.pem`, made once and reused."""

    def __init__(self, state_dir: Path | str, common_name: str = "mailstack harness local CA") -> None:
        self.state_dir = Path(state_dir)
        self.common_name = common_name
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._cert: x509.Certificate | None = None

    @property
    def cert_path(self) -> Path:
        """The CA certificate (PEM): the bundle clients verify against."""
        return self.state_dir / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.state_dir / "ca-key.pem"

    def ensure(self) -> LocalCA:
        """Load the persisted CA, or make (and persist) a new one if missing, mismatched or expiring."""
        if self._cert is not None:
            return self
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(
                f"cannot create the CA state directory {self.state_dir} ({exc.strerror})",
                "point the harness at a writable run directory (HARNESS_RUN_DIR, default .harness/)",
            ) from exc
        loaded = self._load()
        if loaded is None:
            loaded = self._create()
        self._key, self._cert = loaded
        return self

    def _load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
        if not (self.cert_path.exists() and self.key_path.exists()):
            return None
        try:
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (ValueError, TypeError):
            return None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return None
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            return None
        if cert.not_valid_after_utc - RENEW_BEFORE < _now():
            return None
        return key, cert

    def _create(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, self.common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailstack harness"),
            ]
        )
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.key_path, _key_pem(key))
        _write_public(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return key, cert

    def issue_server_certificate(
        self,
        name: str,
        dns_names: list[str] | tuple[str, ...],
        ip_addresses: list[str] | tuple[str, ...] = (),
    ) -> IssuedCertificate:
        """A server certificate for `dns_names` + `ip_addresses`, written under `<state_dir>/certs/`.

        `name` only picks the file name. The first DNS name (or `name`) is the subject CN.
        """
        self.ensure()
        assert self._key is not None and self._cert is not None
        dns = tuple(dict.fromkeys(d.strip().rstrip(".").lower() for d in dns_names if d and d.strip()))
        ips = tuple(dict.fromkeys(ip_addresses))
        if not dns and not ips:
            raise HarnessError(f"certificate {name!r} has no names", "pass at least one DNS name or IP address")
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        common_name = (dns[0] if dns else name)[:64]
        now = _now()
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        certs_dir = self.state_dir / "certs"
        certs_dir.mkdir(parents=True, exist_ok=True)
        stem = _safe_name(name)
        cert_path = certs_dir / f"{stem}.pem"
        key_path = certs_dir / f"{stem}-key.pem"
        _write_private(key_path, _key_pem(key))
        _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCertificate(cert_path, key_path, dns, ips)
