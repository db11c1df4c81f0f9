"""The bounce message a Bounce action sends back to the envelope sender (RFC 3464 DSN)."""

from __future__ import annotations

import email.utils
import secrets
from collections.abc import Sequence
from datetime import datetime

from harness.aws.ses.mime import split_message


def bounce_message(
    *,
    sender: str,
    to: str,
    region: str,
    message_id: str,
    recipients: Sequence[str],
    smtp_reply_code: str,
    status_code: str,
    text: str,
    original: bytes,
    when: datetime,
) -> bytes:
    """A multipart/report DSN from `sender` to `to` for `recipients`, with the original headers."""
    reporting_mta = f"inbound-smtp.{region}.amazonaws.com"
    boundary = f"=_bounce_{secrets.token_hex(12)}"
    date = email.utils.format_datetime(when)
    human = (
        "An error occurred while trying to deliver the mail to the following recipients:\r\n"
        + "\r\n".join(recipients)
        + f"\r\n\r\n{text}\r\n"
    )
    per_recipient = "\r\n".join(
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        f"Status: {status_code}\r\n"
        f"Diagnostic-Code: smtp; {smtp_reply_code} {status_code} {text}\r\n"
        for recipient in recipients
    )
    headers, _ = split_message(original)
    head = (
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{message_id}@{reporting_mta}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{human}"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n"
        f"Arrival-Date: {date}\r\n"
        "\r\n"
        f"{per_recipient}"
        f"\r\n--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
    )
    return head.encode("utf-8") + headers + f"\r\n--{boundary}--\r\n".encode()
