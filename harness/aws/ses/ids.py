"""Identifiers shaped like the ones SES inbound hands out."""

from __future__ import annotations

import base64
import secrets


def new_message_id() -> str:
    """40 lowercase characters from the base32hex alphabet (0-9, a-v), like SES inbound ids
    (e.g. `q041v1u3p6g5bust1o2se9of7vf685mtivi7ci01`): 25 random bytes, 200 bits."""
    return base64.b32hexencode(secrets.token_bytes(25)).decode("ascii").lower()


def new_receipt_blob() -> str:
    """An opaque `X-SES-RECEIPT` value. Real ones are base64 of `\\x00AAAAAAAAAAE` followed by an
    encrypted, base64 receipt; this one has the same outer shape with random content."""
    inner = b"\x00AAAAAAAAAAE" + base64.b64encode(secrets.token_bytes(180))
    return base64.b64encode(inner).decode("ascii")
