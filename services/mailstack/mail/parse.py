"""Parse raw MIME with the standard library's modern email API (`email.policy.default`).

`parse_mail` never raises: problems in the input become `defects` on the result. Every leaf part ends
up either in a text body (the first inline text/plain and text/html parts without a file name; later
such parts are appended) or in `attachments`, so nothing the sender attached is lost.
"""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage, Message
from email.parser import BytesParser

from mailstack.mail.envelope import envelope_recipients, envelope_sender, ses_message_id
from mailstack.mail.headers import MessageHeaders, part_header_text
from mailstack.mail.model import Attachment, ParsedMail
from mailstack.mail.text import clean_text, decode_bytes

MAX_NESTING = 50
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_SERIALISE_POLICY = email.policy.default.clone(refold_source="none", linesep="\r\n")


class _Bodies:
    """Collects text bodies and attachments while walking the MIME tree."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []


def _describe(defect: object, path: str) -> str:
    detail = str(defect)
    name = type(defect).__name__
    where = f" in part {path}" if path else ""
    return f"{name}{where}: {detail}" if detail and detail != name else f"{name}{where}"


def _part_defects(part: Message, path: str, defects: list[str]) -> None:
    defects.extend(_describe(defect, path) for defect in getattr(part, "defects", ()))


def _safe_filename(part: Message, defects: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception as exc:
        defects.append(f"unreadable attachment file name ({type(exc).__name__})")
        return None
    if not name:
        return None
    return clean_text(str(name)).strip() or None


def _content_id(part: Message, defects: list[str]) -> str | None:
    value = part_header_text(part, "Content-ID", defects)
    if not value:
        return None
    return value.strip().removeprefix("<").removesuffix(">").strip() or None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"undecodable part payload ({type(exc).__name__}), kept raw")
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return payload if isinstance(payload, bytes) else b""


def _serialised_message(part: Message, defects: list[str]) -> bytes:
    """The bytes of an attached message/rfc822 part."""
    try:
        inner = part.get_payload(0)
        return inner.as_bytes(policy=_SERIALISE_POLICY)
    except Exception as exc:
        defects.append(f"attached message could not be serialised ({type(exc).__name__})")
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _content_type(part: Message, defects: list[str]) -> str:
    content_type = part.get_content_type()
    if _CONTENT_TYPE.fullmatch(content_type):
        return content_type
    defects.append(f"invalid content type {clean_text(content_type)!r}, treated as application/octet-stream")
    return "application/octet-stream"


def _leaf(part: Message, path: str, bodies: _Bodies, defects: list[str]) -> None:
    content_type = _content_type(part, defects)
    disposition = part.get_content_disposition()
    filename = _safe_filename(part, defects)
    content_id = _content_id(part, defects)
    is_message = content_type == "message/rfc822"
    content = _serialised_message(part, defects) if is_message else _payload_bytes(part, defects)
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and filename is None:
        text = decode_bytes(content, part.get_content_charset(), defects)
        (bodies.text if content_type == "text/plain" else bodies.html).append(text)
        return
    bodies.attachments.append(
        Attachment(
            content=content,
            content_type=content_type,
            filename=filename,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and content_id is not None),
        )
    )


def _walk(part: Message, path: str, depth: int, bodies: _Bodies, defects: list[str]) -> None:
    if depth > MAX_NESTING:
        defects.append(f"MIME nesting deeper than {MAX_NESTING} at part {path}, rest skipped")
        return
    payload = part.get_payload()
    if part.get_content_maintype() == "multipart" and isinstance(payload, list):
        _part_defects(part, path, defects)
        for index, child in enumerate(payload, start=1):
            _walk(child, f"{path}.{index}" if path else str(index), depth + 1, bodies, defects)
        return
    try:
        _leaf(part, path, bodies, defects)
    except Exception as exc:
        defects.append(f"part {path or 'body'} could not be read ({type(exc).__name__}), kept as raw bytes")
        raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        bodies.attachments.append(Attachment(content=raw, content_type="application/octet-stream"))
    _part_defects(part, path, defects)  # after decoding, which adds payload defects


def _storable(defects: list[str]) -> tuple[str, ...]:
    """Defects once each, as storable text (a defect may quote the input it found, NUL included)."""
    return tuple(dict.fromkeys(clean_text(defect) for defect in defects))


def _join(parts: list[str]) -> str | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "\n".join(parts)


def _parse(raw: bytes, defects: list[str]) -> ParsedMail:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    bodies = _Bodies()
    _walk(message, "", 0, bodies, defects)
    headers = MessageHeaders(message, defects)
    from_addresses = headers.addresses("From")
    return ParsedMail(
        size=len(raw),
        headers=headers.items(),
        message_id=headers.text("Message-ID") or None,
        subject=headers.text("Subject"),
        from_header=headers.text("From"),
        from_address=from_addresses[0].address if from_addresses else None,
        sent_at=headers.datetime("Date"),
        to=headers.addresses("To"),
        cc=headers.addresses("Cc"),
        bcc=headers.addresses("Bcc"),
        envelope_from=envelope_sender(message),
        envelope_to=envelope_recipients(message),
        ses_message_id=ses_message_id(message),
        text_body=_join(bodies.text),
        html_body=_join(bodies.html),
        attachments=tuple(bodies.attachments),
        defects=_storable(defects),
    )


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse `raw`; never raises. A message the parser cannot make sense of at all is kept as text."""
    defects: list[str] = []
    try:
        return _parse(raw, defects)
    except Exception as exc:
        defects.append(f"message could not be parsed ({type(exc).__name__}: {exc}), stored as text")
        return ParsedMail(
            size=len(raw),
            text_body=decode_bytes(raw, "utf-8", []),
            defects=_storable(defects),
        )
