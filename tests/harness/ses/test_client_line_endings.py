"""send_mail speaks SMTP with CRLF line ends whatever the file uses, and a refused DATA is an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.testing.smtp_client import send_mail


class _Keep(Sink):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append(envelope.original_content)
        return "250 Ok kept"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, _Keep]]:
    handler = _Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_lf_only_file_larger_than_one_smtp_line_is_sent_with_crlf(smtp, tmp_path: Path) -> None:
    controller, handler = smtp
    body = "\n".join(f"line {i} " + "x" * 60 for i in range(40))
    eml = tmp_path / "lf.eml"
    eml.write_bytes(f"From: a@example.org\nTo: b@example.org\nSubject: lf\n\n{body}\n".encode())
    assert len(eml.read_bytes()) > 1001
    result = send_mail(controller.hostname, controller.port, eml=eml)
    assert result.message_id == "kept"
    [received] = handler.received
    assert b"\r\nline 39 " in received and b"\n" not in received.replace(b"\r\n", b"")


def test_a_refused_data_raises(smtp, tmp_path: Path) -> None:
    controller, _ = smtp
    eml = tmp_path / "long.eml"
    eml.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\n\r\n" + b"y" * 2000 + b"\r\n")
    with pytest.raises(HarnessError, match="Line too long"):
        send_mail(controller.hostname, controller.port, eml=eml)
