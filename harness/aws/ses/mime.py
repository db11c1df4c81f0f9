"""Header work on raw mail bytes: the headers SES inbound prepends, and the `headers` /
`commonHeaders` views of a notification's `mail` object.

SES leaves the received bytes untouched and prepends, in this order (seen in mail that SES
stored to S3):

    Return-Path: <envelope MAIL FROM>
    Received: from <helo> (<helo> [<ip>])
     by inbound-smtp.<region>.amazonaws.com with SMTP id <message id>
     for <recipient>;
     <RFC 2822 date> (UTC)
    X-SES-Spam-Verdict: PASS          (only when the rule scans: ScanEnabled)
    X-SES-Virus-Verdict: PASS         (idem)
    Received-SPF: pass (spfCheck: ...) client-ip=<ip>; envelope-from=<from>; helo=<helo>;
    Authentication-Results: amazonses.com;
     spf=pass (spfCheck: ...) client-ip=...; envelope-from=...; helo=...;
     dkim=pass header.i=@<from domain>;
     dmarc=pass header.from=<from domain>;
    X-SES-RECEIPT: <opaque base64>
    X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=...; c=relaxed/simple; s=...;
     d=amazonses.com; t=<epoch>; v=1; bh=<body hash>; h=From:To:Cc:Bcc:Subject:Date:Message-ID:...;

Locally there is no DNS, so the verdicts are the configured ones (`Verdicts`, all PASS by default),
the DKIM signature `b=` is random (only `bh=` is a real body hash) and X-SES-RECEIPT is opaque.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header

CRLF = b"\r\n"

#: SES notification `headersTruncated` threshold.
HEADERS_LIMIT = 10 * 1024

_SPF_WORDS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}
_AUTH_WORDS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}
_DKIM_SIGNED = "From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT"


@dataclass(frozen=True)
class Verdicts:
    """The statuses SES reports; PASS, FAIL, GRAY or PROCESSING_FAILED (spam/virus only when the
    rule has ScanEnabled, otherwise they read DISABLED in notifications)."""

    spam: str = "PASS"
    virus: str = "PASS"
    spf: str = "PASS"
    dkim: str = "PASS"
    dmarc: str = "PASS"


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its final line break, rest starting with the blank line)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            cut = index + len(sep) // 2
            return raw[:cut], raw[cut:]
    return raw, b""


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of `raw`, in order, unfolded the way SES shows them in notifications
    (each line break plus its folding whitespace becomes one space)."""
    block, _ = split_message(raw)
    text = block.decode("utf-8", errors="replace")
    fields: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line[0] in " \t" and fields:
            name, value = fields[-1]
            continuation = line.lstrip(" \t")
            fields[-1] = (name, f"{value} {continuation}")
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return fields


def header_value(fields: Sequence[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    for field_name, value in fields:
        if field_name.lower() == wanted:
            return value
    return None


_SPECIALS = set('()<>@,:;."[]\\')


def _addresses(value: str) -> list[str]:
    """One entry per address, display names decoded (`Jürgen <j@x.test>`, `"B, Person" <b@x.test>`)."""
    out = []
    for name, addr in email.utils.getaddresses([value]):
        if not addr:
            continue
        name = _decoded(name)
        if name and _SPECIALS.intersection(name):
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            name = f'"{escaped}"'
        out.append(f"{name} <{addr}>" if name else addr)
    return out


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError):
        return value


def common_headers(fields: Sequence[tuple[str, str]]) -> dict[str, object]:
    """The notification's `mail.commonHeaders`: only the fields present in the mail."""
    common: dict[str, object] = {}
    return_path = header_value(fields, "Return-Path")
    if return_path is not None:
        common["returnPath"] = return_path.strip().strip("<>")
    for key, name in (("from", "From"), ("sender", "Sender"), ("replyTo", "Reply-To")):
        value = header_value(fields, name)
        if value is not None:
            common[key] = _addresses(value)
    date = header_value(fields, "Date")
    if date is not None:
        common["date"] = date
    for key, name in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
        value = header_value(fields, name)
        if value is not None:
            common[key] = _addresses(value)
    message_id = header_value(fields, "Message-ID")
    if message_id is not None:
        common["messageId"] = message_id
    subject = header_value(fields, "Subject")
    if subject is not None:
        common["subject"] = _decoded(subject)
    return common


def headers_for_notification(fields: Sequence[tuple[str, str]]) -> tuple[list[dict[str, str]], bool]:
    """(`mail.headers`, `mail.headersTruncated`): headers beyond 10 KB are left out, as SES does."""
    shown: list[dict[str, str]] = []
    size = 0
    for name, value in fields:
        size += len(name) + len(value) + 4
        if size > HEADERS_LIMIT:
            return shown, True
        shown.append({"name": name, "value": value})
    return shown, False


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip("<> ").lower()


def _body_hash(raw: bytes) -> str:
    _, body = split_message(raw)
    body = body[2:] if body.startswith(CRLF) else body.lstrip(b"\n")
    body = body.rstrip(b"\r\n") + CRLF  # DKIM "simple" body canonicalization
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


@dataclass(frozen=True)
class Arrival:
    """What SMTP told us about one mail."""

    message_id: str
    region: str
    mail_from: str
    recipient: str
    peer_ip: str
    helo: str
    received_at: datetime


def ses_headers(
    arrival: Arrival,
    raw: bytes,
    verdicts: Verdicts,
    *,
    scanned: bool,
    receipt_blob: str,
) -> list[tuple[str, str]]:
    """The header fields SES prepends, in SES order, values folded as SES folds them."""
    helo = arrival.helo or "unknown"
    ip = arrival.peer_ip
    mail_from = arrival.mail_from
    envelope_domain = _domain_of(mail_from) or helo
    fields = parse_headers(raw)
    from_domain = _domain_of(email.utils.parseaddr(header_value(fields, "From") or "")[1]) or envelope_domain
    date = email.utils.format_datetime(arrival.received_at.replace(microsecond=0), usegmt=False)
    spf_word = _SPF_WORDS.get(verdicts.spf.upper(), "none")
    spf_text = (
        f"{spf_word} (spfCheck: domain of {envelope_domain} designates {ip} as permitted sender) "
        f"client-ip={ip}; envelope-from={mail_from}; helo={helo};"
    )
    dkim_word = _AUTH_WORDS.get(verdicts.dkim.upper(), "none")
    dmarc_word = _AUTH_WORDS.get(verdicts.dmarc.upper(), "none")
    out: list[tuple[str, str]] = [
        ("Return-Path", f"<{mail_from}>"),
        (
            "Received",
            f"from {helo} ({helo} [{ip}])\r\n by inbound-smtp.{arrival.region}.amazonaws.com "
            f"with SMTP id {arrival.message_id}\r\n for {arrival.recipient};\r\n {date} (UTC)",
        ),
    ]
    if scanned:
        out.append(("X-SES-Spam-Verdict", verdicts.spam.upper()))
        out.append(("X-SES-Virus-Verdict", verdicts.virus.upper()))
    out.append(("Received-SPF", spf_text))
    out.append(
        (
            "Authentication-Results",
            f"amazonses.com;\r\n spf={spf_text}\r\n dkim={dkim_word} header.i=@{from_domain};\r\n"
            f" dmarc={dmarc_word} header.from={from_domain};",
        )
    )
    out.append(("X-SES-RECEIPT", receipt_blob))
    signature = base64.b64encode(secrets.token_bytes(128)).decode("ascii")
    selector = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
    out.append(
        (
            "X-SES-DKIM-SIGNATURE",
            f"a=rsa-sha256; q=dns/txt; b={signature}; c=relaxed/simple; s={selector}; "
            f"d=amazonses.com; t={int(arrival.received_at.timestamp())}; v=1; bh={_body_hash(raw)}; "
            f"h={_DKIM_SIGNED};",
        )
    )
    return out


def render_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """`Name: value\\r\\n` lines (values may already carry CRLF folding)."""
    return b"".join(f"{name}: {value}".encode() + CRLF for name, value in fields)
