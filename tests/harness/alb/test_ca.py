"""The harness CA: persisted, reused, and issuing certificates that verify for the names asked."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from harness.core.ca import LocalCA


def test_ca_is_created_once_and_reused(tmp_path) -> None:
    first = LocalCA(tmp_path).ensure()
    pem = first.cert_path.read_bytes()
    assert first.key_path.stat().st_mode & 0o077 == 0  # the key is private
    assert LocalCA(tmp_path).ensure().cert_path.read_bytes() == pem


def test_ca_is_remade_when_the_key_does_not_match(tmp_path) -> None:
    LocalCA(tmp_path).ensure()
    pem = (tmp_path / "ca.pem").read_bytes()
    other = tmp_path / "other"
    LocalCA(other).ensure()
    (tmp_path / "ca-key.pem").write_bytes((other / "ca-key.pem").read_bytes())
    assert LocalCA(tmp_path).ensure().cert_path.read_bytes() != pem


def test_issued_certificate_verifies_for_every_name(tmp_path) -> None:
    ca = LocalCA(tmp_path)
    issued = ca.issue_server_certificate(
        "web-443",
        ["web-1.us-east-1.elb.amazonaws.com", "api.example.com", "*.mail.example.com", "localhost"],
        ["127.0.0.1"],
    )
    leaf = x509.load_pem_x509_certificate(issued.cert_path.read_bytes())
    store = Store([x509.load_pem_x509_certificate(ca.cert_path.read_bytes())])
    for name in ("web-1.us-east-1.elb.amazonaws.com", "api.example.com", "in.mail.example.com", "localhost"):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name)).verify(leaf, [])
    PolicyBuilder().store(store).build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1"))).verify(
        leaf, []
    )
