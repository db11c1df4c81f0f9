"""STARTTLS on the SES inbound MX carries a certificate of the harness CA, which clients can verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from harness.aws.ses.tls import server_context
from harness.core.ca import LocalCA
from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.testing.smtp_client import send_mail


class _Ok(Sink):
    async def handle_DATA(self, server, session, envelope) -> str:
        assert session.ssl is not None, "DATA arrived without TLS"
        return "250 Ok tls-id"


@pytest.fixture
def mx(tmp_path: Path) -> Iterator[tuple[Controller, LocalCA]]:
    ca = LocalCA(tmp_path / "ca")
    context = server_context(ca, "inbound-smtp.us-east-1.amazonaws.com", "127.0.0.1")
    controller = Controller(_Ok(), hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True)
    controller.start()
    yield controller, ca
    controller.stop()


def test_client_verifies_the_mx_against_the_harness_ca(mx) -> None:
    controller, ca = mx
    result = send_mail(controller.hostname, controller.port, sender="a@example.org", to=["b@example.org"],
                       body="hi", ca_bundle=ca.cert_path)
    assert result.message_id == "tls-id"


def test_a_certificate_from_another_ca_is_refused(mx, tmp_path: Path) -> None:
    controller, _ = mx
    stranger = LocalCA(tmp_path / "other").ensure()
    with pytest.raises((HarnessError, OSError)):
        send_mail(controller.hostname, controller.port, sender="a@example.org", to=["b@example.org"],
                  body="hi", ca_bundle=stranger.cert_path)
