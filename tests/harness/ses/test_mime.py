"""Header work and notification shape, without servers."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from harness.aws.ses.ids import new_message_id
from harness.aws.ses.mime import Arrival, Verdicts, common_headers, parse_headers, render_fields, ses_headers
from harness.aws.ses.notification import mail_object, receipt_object, received_notification

RAW = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@sender.test>\r\n"
    b'To: a@example.com, "B, Person" <b@example.com>\r\n'
    b"Cc: c@example.com\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256;\r\n\ts=sel; d=sender.test\r\n"
    b"Message-ID: <m1@sender.test>\r\n"
    b"\r\n"
    b"body\r\n"
)


def test_message_ids_look_like_ses_inbound_ids():
    ids = {new_message_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-v]{40}", i) for i in ids)


def test_headers_are_unfolded_with_one_space():
    fields = parse_headers(RAW)
    assert ("DKIM-Signature", "v=1; a=rsa-sha256; s=sel; d=sender.test") in fields
    assert [name for name, _ in fields][:2] == ["From", "To"]


def test_common_headers_split_addresses_and_decode_subject():
    common = common_headers(parse_headers(RAW))
    assert common["to"] == ["a@example.com", '"B, Person" <b@example.com>']
    assert common["cc"] == ["c@example.com"]
    assert common["from"] == ["Jürgen <jurgen@sender.test>"]
    assert common["subject"] == "Grüße"
    assert common["messageId"] == "<m1@sender.test>"
    assert "returnPath" not in common


def test_ses_headers_come_in_ses_order_and_scan_headers_only_when_scanning():
    arrival = Arrival(
        "abc",
        "eu-west-1",
        "jurgen@sender.test",
        "a@example.com",
        "192.0.2.7",
        "mx.sender.test",
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    scanned = [name for name, _ in ses_headers(arrival, RAW, Verdicts(), scanned=True, receipt_blob="R")]
    assert scanned == [
        "Return-Path",
        "Received",
        "X-SES-Spam-Verdict",
        "X-SES-Virus-Verdict",
        "Received-SPF",
        "Authentication-Results",
        "X-SES-RECEIPT",
        "X-SES-DKIM-SIGNATURE",
    ]
    fields = dict(ses_headers(arrival, RAW, Verdicts(spf="FAIL"), scanned=False, receipt_blob="R"))
    assert "X-SES-Spam-Verdict" not in fields
    assert fields["Received"].startswith(
        "from mx.sender.test (mx.sender.test [192.0.2.7])\r\n by inbound-smtp.eu-west-1.amazonaws.com"
    )
    assert "with SMTP id abc\r\n for a@example.com;\r\n Fri, 02 Jan 2026 03:04:05 +0000 (UTC)" in fields["Received"]
    assert fields["Received-SPF"].startswith("fail (spfCheck:")
    assert "dkim=pass header.i=@sender.test;" in fields["Authentication-Results"]
    stamped = render_fields(ses_headers(arrival, RAW, Verdicts(), scanned=True, receipt_blob="R")) + RAW
    assert stamped.endswith(RAW)


def test_notification_shape_and_both_encodings():
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    mail = mail_object(message_id="abc", received_at=when, mail_from="s@x.test", destination=["a@example.com"], raw=RAW)
    receipt = receipt_object(
        received_at=when,
        recipients=["a@example.com"],
        verdicts=Verdicts(),
        scanned=False,
        action={"type": "SNS", "topicArn": "arn:t", "encoding": "BASE64"},
        now=when,
    )
    utf8 = received_notification(mail, receipt, content=RAW, encoding="UTF-8")
    assert list(utf8) == ["notificationType", "mail", "receipt", "content"]
    assert utf8["mail"]["timestamp"] == "2026-01-02T03:04:05.678Z"
    assert list(utf8["mail"]) == [
        "timestamp",
        "source",
        "messageId",
        "destination",
        "headersTruncated",
        "headers",
        "commonHeaders",
    ]
    assert utf8["receipt"]["spamVerdict"] == {"status": "DISABLED"}
    assert utf8["receipt"]["processingTimeMillis"] == 0
    assert utf8["content"] == RAW.decode()
    b64 = received_notification(mail, receipt, content=RAW, encoding="Base64")
    assert base64.b64decode(b64["content"]) == RAW
    assert "content" not in received_notification(mail, receipt)


def test_headers_beyond_10_kb_are_truncated():
    raw = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 200) for i in range(80)) + b"\r\nbody"
    mail = mail_object(message_id="m", received_at=datetime.now(UTC), mail_from="", destination=[], raw=raw)
    assert mail["headersTruncated"] is True
    assert 0 < len(mail["headers"]) < 80
