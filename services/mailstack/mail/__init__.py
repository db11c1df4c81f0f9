"""MIME parsing: raw RFC 5322 bytes in, a ParsedMail out (never raises)."""

from mailstack.mail.model import Address, Attachment, ParsedMail
from mailstack.mail.parse import parse_mail

__all__ = ["Address", "Attachment", "ParsedMail", "parse_mail"]
