"""Reading header values without letting a malformed header raise.

The modern email API parses header values lazily and a few malformed inputs still raise inside it.
`MessageHeaders` parses every header once (address lists are costly to parse) and falls back to the
raw value, decoded with the legacy RFC 2047 decoder, when structured parsing fails.
"""

from __future__ import annotations

import email.header
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from mailstack.mail.model import Address
from mailstack.mail.text import clean_text


def _decode_raw(raw: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:
        return raw


def _unfold(value: str) -> str:
    return " ".join(value.split()) if "\n" in value or "\r" in value else value


@dataclass(frozen=True)
class _Field:
    name: str
    raw: str
    parsed: Any  # the policy's header object, None when parsing raised
    text: str


class MessageHeaders:
    """The headers of one message, each parsed once, in their original order."""

    def __init__(self, message: Message, defects: list[str]) -> None:
        self._fields: list[_Field] = []
        self._defects = defects
        for name, raw in message.raw_items():
            raw_text = str(raw)
            try:
                parsed = message.policy.header_fetch_parse(name, raw)
                text = str(parsed)
                defects.extend(f"header {name!r}: {type(d).__name__}" for d in getattr(parsed, "defects", ()))
            except Exception as exc:
                defects.append(f"header {name!r} could not be parsed ({type(exc).__name__}), kept raw")
                parsed, text = None, _decode_raw(raw_text)
            self._fields.append(_Field(clean_text(str(name)), raw_text, parsed, clean_text(_unfold(text))))

    def _named(self, name: str) -> list[_Field]:
        wanted = name.lower()
        return [field for field in self._fields if field.name.lower() == wanted]

    def items(self) -> tuple[tuple[str, str], ...]:
        """All headers in order, values decoded (RFC 2047) and unfolded."""
        return tuple((field.name, field.text) for field in self._fields)

    def text(self, name: str) -> str | None:
        """The first `name` header as text, or None when absent."""
        fields = self._named(name)
        return fields[0].text.strip() if fields else None

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Every address in every `name` header (groups flattened)."""
        found: list[Address] = []
        for field in self._named(name):
            try:
                addresses = field.parsed.addresses if field.parsed is not None else None
            except Exception as exc:
                self._defects.append(f"header {name!r} addresses could not be parsed ({type(exc).__name__})")
                addresses = None
            if addresses is None:
                pairs = email.utils.getaddresses([_decode_raw(field.raw)])
                found.extend(Address(clean_text(addr), clean_text(display)) for display, addr in pairs if addr)
                continue
            found.extend(
                Address(clean_text(address.addr_spec), clean_text(address.display_name))
                for address in addresses
                if address.addr_spec and address.addr_spec != "<>"
            )
        return tuple(found)

    def datetime(self, name: str) -> datetime | None:
        """The `name` header as an aware datetime (UTC when the header has no zone), or None."""
        text = self.text(name)
        if not text:
            return None
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            self._defects.append(f"header {name!r} is not a valid date: {text!r}")
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def part_header_text(part: Message, name: str, defects: list[str]) -> str | None:
    """One header of a MIME part as text, or None when absent."""
    try:
        value = part.get(name)
    except Exception as exc:
        defects.append(f"header {name!r} could not be parsed ({type(exc).__name__}), kept raw")
        raws = [str(v) for k, v in part.raw_items() if k.lower() == name.lower()]
        value = _decode_raw(raws[0]) if raws else None
    return None if value is None else clean_text(str(value)).strip()
