"""Building test mails and the SQS bodies that announce them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from email.message import EmailMessage


def large_mail(approx_bytes: int = 1_500_000, recipient: str = "bulk@mail.acme.test") -> bytes:
    """A mail over the 200 KB fixture limit: a long text body plus a big binary attachment."""
    message = EmailMessage()
    message["From"] = "Reports <reports@bigcorp.example>"
    message["To"] = recipient
    message["Subject"] = "Quarterly export"
    message["Message-ID"] = "<export-q2@bigcorp.example>"
    message["Date"] = "Fri, 28 Jun 2024 23:59:00 +0000"
    line = "row;customer;amount;currency;status;comment\n"
    message.set_content(line * 2000)
    message.add_attachment(
        os.urandom(max(approx_bytes - len(line) * 2000, 1024)),
        maintype="application",
        subtype="zip",
        filename="export-q2.zip",
    )
    return message.as_bytes()


def simple_mail(subject: str, recipient: str = "support@mail.acme.test", body: str = "hello\n") -> bytes:
    message = EmailMessage()
    message["From"] = "Sender <sender@example.org>"
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.org>"
    message.set_content(body)
    return message.as_bytes()


def ses_stored_mail(ses_message_id: str, recipients: list[str], sender: str = "sender@example.org") -> bytes:
    """A mail as SES's S3 action stores it for several envelope recipients: its trace headers first, whose
    `Received` names SES's message id (the object key's last segment) and the first recipient only. The
    To header names a list, not the recipients."""
    message = EmailMessage()
    message["From"] = f"Sender <{sender}>"
    message["To"] = "undisclosed-recipients:;"
    message["Subject"] = f"to {len(recipients)} recipients"
    message["Message-ID"] = f"<{ses_message_id}@example.org>"
    message.set_content("hello all\n")
    trace = (
        f"Return-Path: <{sender}>\r\n"
        "Received: from mx.example.org (mx.example.org [192.0.2.7])\r\n"
        f" by inbound-smtp.us-east-1.amazonaws.com with SMTP id {ses_message_id}\r\n"
        f" for {recipients[0]};\r\n"
        " Mon, 03 Jun 2024 08:15:02 +0000 (UTC)\r\n"
    )
    return trace.encode() + message.as_bytes()


def now_iso() -> str:
    """The current time the way S3 and SES write it (ISO 8601 UTC, milliseconds, `Z`)."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sns_envelope(message: str, topic_arn: str = "arn:aws:sns:us-east-1:123456789012:inbound") -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "4f7e2c1a-0000-4000-8000-000000000001",
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": "2024-06-03T08:15:03.200Z",
            "SignatureVersion": "1",
            "Signature": "unused",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        }
    )


S3_TEST_EVENT = json.dumps(
    {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2024-06-03T08:00:00.000Z",
        "Bucket": "raw-mail",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
)


def ses_receipt_notification(bucket: str, key: str, recipients: list[str], source: str) -> str:
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": {
                "timestamp": "2024-06-03T08:15:02.000Z",
                "source": source,
                "messageId": key.rsplit("/", 1)[-1],
                "destination": recipients,
            },
            "receipt": {
                "recipients": recipients,
                "action": {"type": "S3", "bucketName": bucket, "objectKey": key},
            },
        }
    )
