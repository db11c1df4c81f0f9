"""Attachment downloads name the file only, never a path."""

from __future__ import annotations

import pytest
from mailstack.api.messages import _content_disposition


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("../../../etc/passwd", 'filename="passwd"'),
        ("..\\..\\windows\\system.ini", 'filename="system.ini"'),
        ("report.pdf", 'filename="report.pdf"'),
        ("...", 'filename="attachment-1"'),
        (None, 'filename="attachment-1"'),
    ],
)
def test_download_header_names_the_file_only(original: str | None, expected: str) -> None:
    header = _content_disposition(original, "attachment-1")
    assert expected in header
    assert "/" not in header.split("filename*=")[0] and ".." not in header


def test_non_ascii_name_keeps_its_utf8_form() -> None:
    header = _content_disposition("Verbrauch Müller.csv", "attachment-1")
    assert "filename*=UTF-8''Verbrauch%20M%C3%BCller.csv" in header
