"""`send_mail()`: deliver a mail to an SMTP endpoint (the local SES inbound) over real SMTP.

Either an .eml file (sent byte for byte; envelope from its From/To/Cc/Bcc unless given) or a
composed message (from, to, subject, body, attachments). Returns the SES message id from the
`250 Ok <id>` reply to DATA. Errors are `HarnessError`s that name the fix, so a CLI command can
print them as they are.
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from harness.core.errors import HarnessError

_ID_IN_REPLY = re.compile(r"^\s*ok\s+(\S+)", re.IGNORECASE)


class MailFileError(HarnessError):
    """The .eml file is missing or is not a mail message."""


class RecipientsRefusedError(HarnessError):
    """The server refused every recipient (or the sender)."""

    def __init__(self, problem: str, fix: str, refused: dict[str, tuple[int, str]]) -> None:
        super().__init__(problem, fix)
        self.refused = refused


@dataclass(frozen=True)
class SendResult:
    message_id: str | None
    """The id from the `250 Ok <id>` reply (SES inbound's message id, the S3 object key suffix)."""
    accepted: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    reply: str = ""

    @property
    def message_ids(self) -> list[str]:
        return [self.message_id] if self.message_id else []


_BARE_LF = re.compile(rb"(?<!\r)\n")


def load_eml(path: Path) -> bytes:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise MailFileError(f"mail file {path} does not exist", "check the path to the .eml file") from exc
    except OSError as exc:
        raise MailFileError(f"cannot read mail file {path} ({exc.strerror})", "check its permissions") from exc
    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    if not raw.strip() or not message.keys():
        raise MailFileError(
            f"{path} is not a mail message (no RFC 5322 header fields found)",
            "give an .eml file that starts with header lines such as 'From:' and 'To:'",
        )
    return raw


def compose(
    *,
    sender: str,
    to: Sequence[str],
    subject: str = "",
    body: str = "",
    html: str | None = None,
    cc: Sequence[str] = (),
    attachments: Sequence[Path] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        path = Path(attachment)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise MailFileError(f"cannot read attachment {path} ({exc.strerror})", "check the path") from exc
        mime, _ = mimetypes.guess_type(path.name)
        maintype, _, subtype = (mime or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message.as_bytes(policy=policy.SMTP)


def _envelope_from_headers(raw: bytes) -> tuple[str | None, list[str]]:
    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    sender = email.utils.parseaddr(message.get("Return-Path") or message.get("Sender") or message.get("From") or "")[1]
    fields = message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", [])
    recipients = [address for _, address in email.utils.getaddresses(fields) if address]
    return sender or None, recipients


def send_mail(
    host: str,
    port: int,
    *,
    eml: Path | None = None,
    raw: bytes | None = None,
    sender: str | None = None,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    subject: str = "",
    body: str = "",
    html: str | None = None,
    attachments: Sequence[Path] = (),
    starttls: bool | None = None,
    helo: str | None = None,
    timeout: float = 30.0,
    source_address: tuple[str, int] | None = None,
    ca_bundle: Path | str | None = None,
) -> SendResult:
    """Send one mail over SMTP and return the message id of the `250` reply to DATA.

    With `eml` (or `raw` bytes) the message goes out unchanged; `sender` / `to` override the
    envelope, which otherwise comes from its From and To/Cc/Bcc headers. Without them, a message
    is composed from `sender`, `to`, `cc`, `subject`, `body`, `html` and `attachments`.
    `starttls`: None (default) upgrades when the server offers STARTTLS, as MTAs do; True
    requires it; False never uses it. With `ca_bundle` the server certificate is verified against it
    (the harness CA); without, TLS is opportunistic. Partially refused recipients are reported in
    `SendResult.refused`; if every recipient is refused a `RecipientsRefusedError` is raised.
    """
    if eml is not None and raw is not None:
        raise HarnessError("give either an .eml file or raw bytes, not both", "drop one of them")
    if eml is not None:
        raw = load_eml(eml)
    if raw is not None:
        header_sender, header_recipients = _envelope_from_headers(raw)
        sender = sender or header_sender
        recipients = list(to) + list(cc) if (to or cc) else header_recipients
    else:
        if not sender or not to:
            raise HarnessError("a composed mail needs a sender and at least one recipient", "pass sender= and to=")
        recipients = list(to) + list(cc)
        raw = compose(sender=sender, to=to, subject=subject, body=body, html=html, cc=cc, attachments=attachments)
    if not sender:
        raise HarnessError("no envelope sender: the mail has no From header", "pass sender='you@example.com'")
    if not recipients:
        raise HarnessError("no recipients: the mail has no To/Cc/Bcc header", "pass to=['someone@example.com']")

    try:
        client = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout, source_address=source_address)
    except smtplib.SMTPConnectError as exc:
        raise HarnessError(
            f"SMTP server {host}:{port} refused the connection: "
            f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}",
            "is this client's IP blocked by an SES receipt filter?",
        ) from exc
    except OSError as exc:
        raise HarnessError(
            f"cannot connect to SMTP {host}:{port} ({exc})",
            "is the local cloud up? `harness status` prints the SES inbound endpoint",
        ) from exc
    with client:
        client.ehlo()
        if starttls is None:
            starttls = client.has_extn("starttls")
        if starttls:
            if ca_bundle is not None:
                context = ssl.create_default_context(cafile=str(ca_bundle))
            else:  # opportunistic TLS, as MTAs use it: encrypt, do not authenticate
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo()
        code, reply = client.mail(sender, [f"SIZE={len(raw)}"] if client.has_extn("size") else [])
        if code != 250:
            raise RecipientsRefusedError(
                f"sender {sender} refused: {code} {reply.decode(errors='replace')}",
                "the mail is larger than the server's SIZE limit" if code == 552 else "check the sender address",
                {sender: (code, reply.decode(errors="replace"))},
            )
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code in (250, 251):
                accepted.append(recipient)
            else:
                refused[recipient] = (code, reply.decode(errors="replace"))
        if not accepted:
            client.rset()
            details = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
            raise RecipientsRefusedError(
                f"every recipient was refused ({details})",
                "send to an address an enabled rule of the active SES receipt rule set covers "
                "(see the rule recipients and the verified domains)",
                refused,
            )
        try:
            # smtplib sends bytes as they are; SMTP wants CRLF line ends, as any MTA would convert them.
            code, reply = client.data(_BARE_LF.sub(b"\r\n", raw))
        except smtplib.SMTPDataError as exc:
            code, reply = exc.smtp_code, exc.smtp_error
        if code != 250:
            raise HarnessError(
                f"the server refused the mail data: {code} {reply.decode(errors='replace')}",
                "a 552 reply means the mail is over the size limit the server advertises in EHLO SIZE; "
                "a 500 'Line too long' means a line of the file exceeds 998 characters",
            )
    text = reply.decode(errors="replace")
    match = _ID_IN_REPLY.match(text)
    return SendResult(message_id=match.group(1) if match else None, accepted=accepted, refused=refused, reply=text)
