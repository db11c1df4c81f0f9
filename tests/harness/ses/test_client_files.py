"""send_mail() input errors, found before any connection is made."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.testing.smtp_client import MailFileError, compose, load_eml, send_mail


def test_missing_eml_names_the_path(tmp_path: Path):
    with pytest.raises(MailFileError) as info:
        load_eml(tmp_path / "nope.eml")
    assert "nope.eml does not exist" in info.value.problem
    assert info.value.fix


def test_unparseable_eml_is_refused(tmp_path: Path):
    path = tmp_path / "junk.eml"
    path.write_bytes(b"this is not a mail message\nat all\n")
    with pytest.raises(MailFileError, match="not a mail message"):
        load_eml(path)
    (tmp_path / "empty.eml").write_bytes(b"")
    with pytest.raises(MailFileError):
        load_eml(tmp_path / "empty.eml")


def test_eml_without_from_or_recipients_needs_them_given(tmp_path: Path):
    path = tmp_path / "bare.eml"
    path.write_bytes(b"Subject: hi\r\n\r\nbody\r\n")
    with pytest.raises(HarnessError, match="no envelope sender"):
        send_mail("127.0.0.1", 1, eml=path)
    with pytest.raises(HarnessError, match="no recipients"):
        send_mail("127.0.0.1", 1, eml=path, sender="a@b.test")


def test_compose_with_attachment(tmp_path: Path):
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    raw = compose(sender="a@sender.test", to=["x@example.com"], subject="S", body="B", attachments=[attachment])
    message = message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "x@example.com"
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == ["report.csv"]
    assert parts[0].get_content_type() == "text/csv"
    assert b"\r\n" in raw
