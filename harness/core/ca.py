"""A local certificate authority persisted in a state directory and reused across runs.

Clients trust `LocalCA.cert_path` (e.g. `httpx.Client(verify=ca.cert_path)`); servers get certificates
from `issue_server_certificate`, which are re-issued on every call (cheap: EC P-256 keys).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from harness.core.certificates import (
    build_certificate,
    certificate_pem,
    distinguished_name,
    private_key_pem,
    utc_now,
    write_private,
    write_public,
)
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
        if cert.not_valid_after_utc - RENEW_BEFORE < utc_now():
            return None
        return key, cert

    def _create(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = build_certificate(
            subject=distinguished_name(self.common_name),
            public_key=key.public_key(),
            signing_key=key,
            validity=CA_VALIDITY,
            ca=True,
            extensions=[ski, x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)],
        )
        write_private(self.key_path, private_key_pem(key))
        write_public(self.cert_path, certificate_pem(cert))
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
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = build_certificate(
            subject=distinguished_name(dns[0] if dns else name),
            issuer=self._cert.subject,
            public_key=key.public_key(),
            signing_key=self._key,
            validity=LEAF_VALIDITY,
            extensions=[
                x509.SubjectAlternativeName(sans),
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            ],
        )
        certs_dir = self.state_dir / "certs"
        certs_dir.mkdir(parents=True, exist_ok=True)
        stem = _safe_name(name)
        cert_path = certs_dir / f"{stem}.pem"
        key_path = certs_dir / f"{stem}-key.pem"
        write_private(key_path, private_key_pem(key))
        write_public(cert_path, certificate_pem(cert))
        return IssuedCertificate(cert_path, key_path, dns, ips)
