"""Opaque keyset cursors for message listings: (received_at, id) of the last item returned."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# ASCII digits only: str.isdigit() also accepts "²" (which int() rejects) and other scripts' digits.
_LIMIT_PATTERN = re.compile(r"[0-9]{1,3}")


class InvalidPageError(ValueError):
    """A limit or cursor the client sent is not valid."""


@dataclass(frozen=True)
class Cursor:
    received_at: datetime
    message_id: UUID

    def encode(self) -> str:
        data = json.dumps([self.received_at.isoformat(), str(self.message_id)]).encode()
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            received_at, message_id = json.loads(data)
            if not isinstance(received_at, str) or not isinstance(message_id, str):
                raise TypeError("cursor fields are not strings")
            cursor = cls(datetime.fromisoformat(received_at), UUID(message_id))
        except (binascii.Error, ValueError, TypeError, RecursionError) as exc:
            raise InvalidPageError("invalid cursor") from exc
        if cursor.received_at.tzinfo is None:
            raise InvalidPageError("invalid cursor")
        return cursor


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not _LIMIT_PATTERN.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidPageError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def parse_cursor(text: str | None) -> Cursor | None:
    return Cursor.decode(text) if text else None
