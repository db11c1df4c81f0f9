"""A throwaway SNS signer: an RSA key, a self-signed certificate served over local HTTP, and
messages signed the way SNS signs them (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA)."""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from mailstack.sns.signature import string_to_sign


def make_certificate(key: rsa.RSAPrivateKey, common_name: str = "sns.local.test") -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class _Handler(BaseHTTPRequestHandler):
    server: _SignerServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = self.server.routes.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SignerServer(ThreadingHTTPServer):
    routes: dict[str, bytes]
    requests: list[str]


class SnsSigner:
    """Serves /cert.pem (the signing certificate) and /confirm (a SubscribeURL stand-in)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate_pem = make_certificate(self.key)
        self._server = _SignerServer(("127.0.0.1", 0), _Handler)
        self._server.routes = {
            "/cert.pem": self.certificate_pem,
            "/confirm": b"<ConfirmSubscriptionResponse/>",
        }
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}/cert.pem"

    @property
    def trusted_pattern(self) -> str:
        return r"^http://127\.0\.0\.1:\d+/"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def serve(self, path: str, body: bytes) -> str:
        self._server.routes[path] = body
        return f"{self.base_url}{path}"

    def start(self) -> SnsSigner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def sign(self, message: dict[str, Any], version: str = "1", key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
        signed = {
            **message,
            "SignatureVersion": version,
            "SigningCertURL": message.get("SigningCertURL", self.cert_url),
        }
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self, message: str, topic_arn: str, subject: str | None = None, version: str = "1"
    ) -> dict[str, Any]:
        document: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "UnsubscribeURL": f"{self.base_url}/unsubscribe",
        }
        if subject is not None:
            document["Subject"] = subject
        return self.sign(document, version)

    def subscription_confirmation(
        self,
        topic_arn: str,
        subscribe_url: str | None = None,
        version: str = "1",
        message_type: str = "SubscriptionConfirmation",
    ) -> dict[str, Any]:
        token = uuid.uuid4().hex
        document = {
            "Type": message_type,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": f"You have chosen to subscribe to the topic {topic_arn}.",
            "SubscribeURL": subscribe_url or f"{self.base_url}/confirm?Token={token}",
            "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        return self.sign(document, version)
