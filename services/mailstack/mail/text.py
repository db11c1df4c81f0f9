"""Turning bytes and header values into text PostgreSQL will store."""

from __future__ import annotations

import codecs
from typing import Any

_ASCII_NAMES = frozenset({"ascii", "us-ascii"})


def clean_text(value: str) -> str:
    """Make `value` storable: surrogate-escaped raw bytes are re-read as UTF-8 and NUL becomes U+FFFD.

    PostgreSQL refuses NUL in `text` and `\u0000` in `jsonb`; every string the services store from mail,
    SES or SNS goes through here (or clean_json), so such input is stored with U+FFFD in place of NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "\ufffd")


def clean_json(value: Any) -> Any:
    """A copy of a JSON document (as json.loads returns it) with clean_text applied to every key and string."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def decode_bytes(data: bytes, charset: str | None, defects: list[str]) -> str:
    """Decode a text body in its declared charset; never raises.

    Unknown charsets fall back to UTF-8; undeclared or US-ASCII bodies that carry 8-bit bytes are
    read as UTF-8, else Windows-1252 (what such mail almost always is). Each fallback is a defect.
    """
    name = (charset or "us-ascii").strip().strip('"').lower()
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        defects.append(f"unknown charset {name!r}, decoded as UTF-8")
        codec = "utf-8"
    if codec in _ASCII_NAMES or name in _ASCII_NAMES:
        try:
            return clean_text(data.decode("ascii"))
        except UnicodeDecodeError:
            try:
                text = data.decode("utf-8")
                defects.append("8-bit text declared as US-ASCII, decoded as UTF-8")
                return clean_text(text)
            except UnicodeDecodeError:
                defects.append("8-bit text declared as US-ASCII, decoded as Windows-1252")
                return clean_text(data.decode("cp1252", "replace"))
    try:
        return clean_text(data.decode(codec))
    except UnicodeDecodeError as exc:
        defects.append(f"invalid {codec} text at byte {exc.start}, undecodable bytes replaced")
        return clean_text(data.decode(codec, "replace"))
