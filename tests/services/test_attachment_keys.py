"""Attachment keys never let a sender's file name escape the message's prefix."""

from __future__ import annotations

import re
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mailstack.worker.attachment_keys import attachment_key, safe_file_name

MESSAGE = UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("invoice.pdf", "application/pdf", "invoice.pdf"),
        ("../../../etc/passwd", "application/octet-stream", "passwd"),
        ("..\\..\\windows\\system.ini", "text/plain", "system.ini"),
        ("Verbrauch Müller Juni.csv", "text/csv", "Verbrauch_Muller_Juni.csv"),
        ("..", "image/png", "attachment.png"),
        (None, "application/pdf", "attachment.pdf"),
        ("日本語.txt", "text/plain", "attachment.txt"),
        ("report.", "application/pdf", "report"),
        ("archive.tar.gz", "application/gzip", "archive.tar.gz"),
        ("name.with spaces ext", "text/plain", "name_with_spaces_ext"),
        ("", "application/x-unknown-thing", "attachment.bin"),
        ("a\x00b\nc.txt", "text/plain", "a_b_c.txt"),
    ],
)
def test_safe_file_name(filename, content_type, expected):
    assert safe_file_name(filename, content_type) == expected


def test_long_names_keep_their_extension():
    name = safe_file_name("x" * 500 + ".pdf", "application/pdf")
    assert len(name) == 100 and name.endswith(".pdf")


def test_key_layout():
    assert attachment_key(MESSAGE, 3, "../a b.png", "image/png") == f"attachments/{MESSAGE}/3-a_b.png"


@given(filename=st.none() | st.text(max_size=300), index=st.integers(0, 10_000))
def test_keys_stay_under_the_message_prefix(filename, index):
    key = attachment_key(MESSAGE, index, filename, "application/octet-stream")
    prefix = f"attachments/{MESSAGE}/{index}-"
    assert key.startswith(prefix)
    tail = key.removeprefix(prefix)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", tail)
    assert "/" not in tail and ".." not in tail.split(".")[0:1]
    assert len(tail) <= 100
