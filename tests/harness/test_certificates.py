"""The one certificate builder: the local CA, its leaves and the SNS signing certificate come out of it with
the constraints their job needs."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from harness.aws.sns.signing import load_or_create, string_to_sign
from harness.core.ca import LocalCA


def _constraints(cert: x509.Certificate) -> tuple[bool, bool, bool]:
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert basic.critical and usage.critical
    return basic.value.ca, usage.value.key_cert_sign, usage.value.digital_signature


def test_the_ca_signs_certificates_and_its_leaves_do_not(tmp_path) -> None:
    ca = LocalCA(tmp_path)
    issued = ca.issue_server_certificate("web", ["api.example.com"])
    root = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    leaf = x509.load_pem_x509_certificate(issued.cert_path.read_bytes())
    assert _constraints(root) == (True, True, True)
    assert _constraints(leaf) == (False, False, True)
    assert leaf.issuer == root.subject != leaf.subject
    leaf.verify_directly_issued_by(root)
    assert issued.key_path.stat().st_mode & 0o077 == 0


def test_the_sns_signing_certificate_is_a_self_signed_leaf_that_verifies_its_signatures(tmp_path) -> None:
    identity = load_or_create(tmp_path)
    cert = x509.load_pem_x509_certificate(identity.cert_path.read_bytes())
    assert _constraints(cert) == (False, False, True)
    assert cert.issuer == cert.subject
    message = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
               "Message": "hello", "Timestamp": "2026-01-01T00:00:00.000Z"}
    signature = base64.b64decode(identity.sign(message, "2"))
    cert.public_key().verify(signature, string_to_sign(message).encode(), padding.PKCS1v15(), hashes.SHA256())
    assert (tmp_path / "SimpleNotificationService-key.pem").stat().st_mode & 0o077 == 0
    assert load_or_create(tmp_path).cert_pem == identity.cert_pem  # persisted, reused
