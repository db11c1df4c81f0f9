"""SNS signature verification against a throwaway key and certificate served over local HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mailstack.sns.certificates import CertificateError, CertificateStore, fetch_with_httpx
from mailstack.sns.signature import (
    MalformedMessageError,
    SignatureVerificationError,
    SnsSignatureVerifier,
    StaleMessageError,
    string_to_sign,
)

from tests.services.sns_signer import SnsSigner, make_certificate

TOPIC = "arn:aws:sns:us-east-1:123456789012:mailstack-test-inbound"


@pytest.fixture
def verifier(sns_signer: SnsSigner) -> SnsSignatureVerifier:
    return SnsSignatureVerifier(re.compile(sns_signer.trusted_pattern), CertificateStore())


def test_string_to_sign_for_a_notification():
    message = {
        "Type": "Notification",
        "MessageId": "id-1",
        "TopicArn": "arn:t",
        "Subject": "S",
        "Message": "hello",
        "Timestamp": "2024-01-01T00:00:00.000Z",
        "UnsubscribeURL": "ignored",
    }
    assert string_to_sign(message) == (
        b"Message\nhello\nMessageId\nid-1\nSubject\nS\nTimestamp\n2024-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n"
    )
    del message["Subject"]
    assert b"Subject" not in string_to_sign(message)


def test_string_to_sign_for_a_subscription_confirmation():
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "id-2",
        "Token": "tok",
        "TopicArn": "arn:t",
        "Message": "m",
        "SubscribeURL": "https://x/",
        "Timestamp": "t",
    }
    assert string_to_sign(message) == (
        b"Message\nm\nMessageId\nid-2\nSubscribeURL\nhttps://x/\nTimestamp\nt\nToken\ntok\nTopicArn\narn:t\n"
        b"Type\nSubscriptionConfirmation\n"
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_valid_notification(verifier, sns_signer, version):
    verifier.verify(sns_signer.notification("hello", TOPIC, subject="Greeting", version=version))
    verifier.verify(sns_signer.notification("no subject", TOPIC, version=version))


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_valid_confirmations(verifier, sns_signer, version, message_type):
    verifier.verify(sns_signer.subscription_confirmation(TOPIC, version=version, message_type=message_type))


def test_tampered_message_is_rejected(verifier, sns_signer):
    message = sns_signer.notification("pay 10 EUR", TOPIC)
    message["Message"] = "pay 10000 EUR"
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verifier.verify(message)


def test_signature_from_another_key_is_rejected(verifier, sns_signer):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC)}, key=forger)
    with pytest.raises(SignatureVerificationError):
        verifier.verify(message)


def test_version_mismatch_is_rejected(verifier, sns_signer):
    message = sns_signer.notification("x", TOPIC, version="1")
    message["SignatureVersion"] = "2"
    with pytest.raises(SignatureVerificationError):
        verifier.verify(message)


def test_unknown_signature_version_is_rejected(verifier, sns_signer):
    message = sns_signer.notification("x", TOPIC)
    message["SignatureVersion"] = "3"
    with pytest.raises(SignatureVerificationError, match="unsupported SignatureVersion"):
        verifier.verify(message)


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example/cert.pem",
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
    ],
)
def test_untrusted_certificate_host_is_rejected_without_fetching(sns_signer, cert_url):
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return sns_signer.certificate_pem

    verifier = SnsSignatureVerifier(
        re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"), CertificateStore(fetch)
    )
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "SigningCertURL": cert_url})
    with pytest.raises(SignatureVerificationError, match="not trusted"):
        verifier.verify(message)
    assert fetched == []


def test_certificate_is_fetched_once_and_cached(sns_signer):
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return sns_signer.certificate_pem

    verifier = SnsSignatureVerifier(re.compile(sns_signer.trusted_pattern), CertificateStore(fetch))
    for _ in range(3):
        verifier.verify(sns_signer.notification("x", TOPIC))
    assert fetched == [sns_signer.cert_url]


def test_certificate_fetched_over_http(sns_signer, verifier):
    before = sns_signer.requests.count("/cert.pem")
    url = sns_signer.serve("/other-cert.pem", sns_signer.certificate_pem)
    verifier.verify(sns_signer.sign({**sns_signer.notification("x", TOPIC), "SigningCertURL": url}))
    assert sns_signer.requests.count("/other-cert.pem") == 1
    assert sns_signer.requests.count("/cert.pem") == before


def test_certificate_not_matching_the_key_is_rejected(sns_signer, verifier):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    url = sns_signer.serve("/wrong-cert.pem", make_certificate(other))
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "SigningCertURL": url})
    with pytest.raises(SignatureVerificationError):
        verifier.verify(message)


def test_unreachable_certificate_is_a_verification_failure(sns_signer, verifier):
    message = sns_signer.sign(
        {**sns_signer.notification("x", TOPIC), "SigningCertURL": f"{sns_signer.base_url}/missing.pem"}
    )
    with pytest.raises(SignatureVerificationError, match="HTTP 404"):
        verifier.verify(message)


def test_garbage_signature_is_rejected(verifier, sns_signer):
    message = {**sns_signer.notification("x", TOPIC), "Signature": "%%% not base64 %%%"}
    with pytest.raises(SignatureVerificationError):
        verifier.verify(message)


@pytest.mark.parametrize("missing", ["Message", "MessageId", "Timestamp", "TopicArn"])
def test_missing_fields_are_malformed(verifier, sns_signer, missing):
    message = sns_signer.notification("x", TOPIC)
    del message[missing]
    with pytest.raises(MalformedMessageError, match=missing):
        verifier.verify(message)


# --- freshness: a validly signed message is only accepted while SNS could still be delivering it ---------


def _dated(sns_signer: SnsSigner, when: datetime) -> dict:
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return sns_signer.sign({**sns_signer.notification("x", TOPIC), "Timestamp": stamp})


def test_validly_signed_message_from_2015_is_stale(verifier, sns_signer):
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "Timestamp": "2015-06-01T12:00:00.000Z"})
    with pytest.raises(StaleMessageError, match="older than"):
        verifier.verify(message)


@pytest.mark.parametrize(
    ("age", "fresh"),
    [
        (timedelta(minutes=55), True),  # SNS may still be retrying (its retries stop within 3,600 s)
        (-timedelta(minutes=2), True),  # a little clock skew
        (timedelta(minutes=65), False),
        (-timedelta(hours=1), False),  # dated in the future
    ],
)
def test_message_age_is_checked_against_the_wall_clock(verifier, sns_signer, age, fresh):
    message = _dated(sns_signer, datetime.now(UTC) - age)
    if fresh:
        verifier.verify(message)
    else:
        with pytest.raises(StaleMessageError):
            verifier.verify(message)


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-06-01T12:00:00", ""])
def test_timestamp_without_a_zone_or_unparsable_is_malformed(verifier, sns_signer, timestamp):
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "Timestamp": timestamp})
    with pytest.raises(MalformedMessageError, match="Timestamp"):
        verifier.verify(message)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00", "\t"])
def test_certificate_url_with_trailing_whitespace_is_untrusted_without_fetching(sns_signer, suffix):
    """`$` matches before a trailing newline: a pattern anchored at the end still lets it through, and
    httpx then refuses the URL (an unexpected error, formerly a 500 in the webhook)."""
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return sns_signer.certificate_pem

    verifier = SnsSignatureVerifier(re.compile(r"^http://127\.0\.0\.1:\d+/cert\.pem$"), CertificateStore(fetch))
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "SigningCertURL": sns_signer.cert_url + suffix})
    with pytest.raises(SignatureVerificationError, match="not trusted"):
        verifier.verify(message)
    assert fetched == []


def test_certificate_fetch_of_an_invalid_url_is_a_certificate_error():
    with pytest.raises(CertificateError):
        fetch_with_httpx("http://127.0.0.1:1/cert.pem\n")
