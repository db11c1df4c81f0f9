"""What the parser produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    address: str
    display_name: str = ""


@dataclass(frozen=True)
class Attachment:
    """A leaf MIME part that is not one of the message's text bodies."""

    content: bytes = field(repr=False)
    content_type: str
    filename: str | None = None
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ParsedMail:
    size: int
    headers: tuple[tuple[str, str], ...] = ()
    message_id: str | None = None
    subject: str | None = None
    from_header: str | None = None
    from_address: str | None = None
    sent_at: datetime | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    #: The SES message id of SES inbound's topmost Received header (None when SES did not receive it).
    ses_message_id: str | None = None
    text_body: str | None = None
    html_body: str | None = None
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = ()
