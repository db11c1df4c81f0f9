"""SES inbound end to end: real moto server, real SMTP sessions, rules read back from the SES API."""

from __future__ import annotations

import base64
import json
import logging
import smtplib
from pathlib import Path

import pytest

from harness.aws.ses.inbound import SesInbound
from harness.aws.ses.mime import parse_headers, split_message
from harness.aws.ses.s3crypto import decrypt_object
from harness.core.context import RuntimeContext
from harness.core.errors import PortInUseError
from harness.testing.smtp_client import RecipientsRefusedError, send_mail

from .conftest import MAX_BYTES, REGION, Account

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SES_HEADERS = [
    "Return-Path",
    "Received",
    "X-SES-Spam-Verdict",
    "X-SES-Virus-Verdict",
    "Received-SPF",
    "Authentication-Results",
    "X-SES-RECEIPT",
    "X-SES-DKIM-SIGNATURE",
]

ORIGINAL = (
    b"From: Alice <alice@sender.test>\r\n"
    b"To: Bob <bob@example.com>\r\n"
    b"Subject: Quarterly report\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <q3@sender.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Numbers are up.\r\n"
    b".leading dot survives dot-stuffing\r\n"
    b"Gr\xc3\xbc\xc3\x9fe\r\n"
)


def mail(to: str, subject: str = "hi", size: int = 0) -> bytes:
    filler = (b"x" * 76 + b"\r\n") * (size // 78 + 1) if size else b""
    return (
        f"From: alice@sender.test\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@sender.test>\r\n\r\n"
        "hello\r\n"
    ).encode() + filler


def send(inbound: SesInbound, to: str | list[str], raw: bytes | None = None, **kwargs):
    recipients = [to] if isinstance(to, str) else to
    return send_mail(inbound.host, inbound.port, raw=raw or mail(recipients[0]), to=recipients, **kwargs)


def s3_body(account: Account, key: str) -> bytes:
    return account.client("s3").get_object(Bucket=account.bucket, Key=key)["Body"].read()


def test_accepted_mail_is_stored_with_ses_headers_and_the_original_bytes(account, inbound, tmp_path: Path):
    eml = tmp_path / "report.eml"
    eml.write_bytes(ORIGINAL)
    result = send_mail(inbound.host, inbound.port, eml=eml)
    assert result.reply == f"Ok {result.message_id}"
    assert len(result.message_id) == 40 and result.message_id.isalnum() and result.message_id.islower()
    assert result.accepted == ["bob@example.com"]

    stored = s3_body(account, f"inbound/{result.message_id}")
    assert stored.endswith(ORIGINAL)
    prepended = stored[: -len(ORIGINAL)]
    names = [name for name, _ in parse_headers(prepended + b"\r\n")]
    assert names == [*SES_HEADERS, "X-Harness-Rule"]  # AddHeader ran before the S3 action
    headers = dict(parse_headers(prepended + b"\r\n"))
    assert headers["Return-Path"] == "<alice@sender.test>"
    assert (
        f"by inbound-smtp.{REGION}.amazonaws.com with SMTP id {result.message_id} for bob@example.com;"
        in (headers["Received"])
    )
    assert headers["X-SES-Spam-Verdict"] == "PASS"

    trace = inbound.trace(result.message_id)
    assert trace is not None
    assert [r["rule"] for r in trace["rules"]] == ["store"]
    assert [a["type"] for a in trace["rules"][0]["actions"]] == ["AddHeader", "S3", "SNS"]
    assert trace["rules"][0]["actions"][1]["key"] == f"inbound/{result.message_id}"
    lines = [json.loads(line) for line in (inbound.state_dir / "traces.jsonl").read_text().splitlines()]
    assert result.message_id in {line["messageId"] for line in lines}


def test_sns_action_publishes_the_received_notification_in_utf8(account, inbound):
    result = send_mail(inbound.host, inbound.port, raw=ORIGINAL)
    [note] = account.notifications(account.topic_utf8, result.message_id)
    assert note["Subject"] == "Amazon SES Email Receipt Notification"
    ses = note["ses"]
    assert list(ses) == ["notificationType", "mail", "receipt", "content"]
    assert ses["notificationType"] == "Received"
    assert ses["mail"]["source"] == "alice@sender.test"
    assert ses["mail"]["destination"] == ["bob@example.com"]
    assert ses["mail"]["headersTruncated"] is False
    assert [h["name"] for h in ses["mail"]["headers"]][: len(SES_HEADERS)] == SES_HEADERS
    assert ses["mail"]["commonHeaders"] == {
        "returnPath": "alice@sender.test",
        "from": ["Alice <alice@sender.test>"],
        "date": "Mon, 23 Nov 2026 10:00:00 +0000",
        "to": ["Bob <bob@example.com>"],
        "messageId": "<q3@sender.test>",
        "subject": "Quarterly report",
    }
    receipt = ses["receipt"]
    assert receipt["recipients"] == ["bob@example.com"]
    assert receipt["action"] == {"type": "SNS", "topicArn": account.topic_utf8, "encoding": "UTF8"}
    for verdict in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict"):
        assert receipt[verdict] == {"status": "PASS"}
    assert ses["content"].encode() == s3_body(account, f"inbound/{result.message_id}")
    trace = inbound.trace(result.message_id)
    assert trace["rules"][0]["actions"][2]["snsMessageId"] == note["MessageId"]


def test_s3_action_topic_gets_an_alert_without_content(account, inbound):
    result = send(inbound, "carol@example.com")
    [alert] = account.notifications(account.topic_alerts, result.message_id)
    assert "content" not in alert["ses"]
    assert alert["ses"]["receipt"]["action"] == {
        "type": "S3",
        "topicArn": account.topic_alerts,
        "bucketName": account.bucket,
        "objectKey": f"inbound/{result.message_id}",
    }


def test_subdomain_entry_matches_subdomains_only_and_base64_encoding(account, inbound):
    sub = send(inbound, "dave@eu.example.com")
    trace = inbound.trace(sub.message_id)
    assert [r["rule"] for r in trace["rules"]] == ["subdomains"]
    stored = s3_body(account, f"sub/{sub.message_id}")
    [note] = account.notifications(account.topic_b64, sub.message_id)
    assert note["ses"]["receipt"]["action"]["encoding"] == "BASE64"
    assert base64.b64decode(note["ses"]["content"]) == stored
    apex = send(inbound, "dave@example.com")
    assert [r["rule"] for r in inbound.trace(apex.message_id)["rules"]] == ["store"]
    assert account.objects(f"sub/{apex.message_id}") == []


def test_unknown_recipient_is_refused_with_550_and_nothing_is_written(account, inbound):
    objects, traces = len(account.objects()), len(inbound.traces())
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        client.mail("alice@sender.test")
        code, text = client.rcpt("nobody@unknown.test")
        assert (code, text) == (550, b"5.1.1 Mailbox does not exist")
        code, text = client.rcpt("nobody@example.org")  # verified domain, but no rule covers it
        assert code == 550
    with pytest.raises(RecipientsRefusedError) as info:
        send(inbound, "nobody@unknown.test")
    assert info.value.refused == {"nobody@unknown.test": (550, "5.1.1 Mailbox does not exist")}
    assert len(account.objects()) == objects
    assert len(inbound.traces()) == traces
    assert inbound.rejections()[-1]["recipient"] == "nobody@unknown.test"


def test_mixed_recipients_accept_one_and_refuse_the_other(account, inbound):
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        refused = client.sendmail("alice@sender.test", ["erin@example.com", "erin@nowhere.test"], mail("erin"))
    assert refused == {"erin@nowhere.test": (550, b"5.1.1 Mailbox does not exist")}
    result = send(inbound, ["frank@example.com", "frank@nowhere.test"])
    assert result.accepted == ["frank@example.com"]
    assert result.refused == {"frank@nowhere.test": (550, "5.1.1 Mailbox does not exist")}
    trace = inbound.trace(result.message_id)
    assert trace["recipients"] == ["frank@example.com"]
    assert account.objects(f"inbound/{result.message_id}")


def test_a_recipient_with_nul_is_refused_at_rcpt_and_every_other_recipient_gets_the_mail(account, inbound):
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        client.mail("alice@sender.test")
        assert client.docmd("RCPT", "TO:<gina@example.com>")[0] == 250
        assert client.docmd("RCPT", "TO:<gi\x00na@example.com>") == (501, b"5.1.3 Invalid RCPT TO address provided")
        assert client.docmd("RCPT", "TO:<hank@example.com>")[0] == 250
        code, reply = client.data(mail("gina@example.com", "nul-rcpt"))
    assert code == 250
    message_id = reply.decode().removeprefix("Ok ")
    assert inbound.trace(message_id)["recipients"] == ["gina@example.com", "hank@example.com"]
    [alert] = account.notifications(account.topic_alerts, message_id)  # what the worker's envelope comes from
    assert alert["ses"]["receipt"]["recipients"] == ["gina@example.com", "hank@example.com"]
    assert alert["ses"]["mail"]["destination"] == ["gina@example.com", "hank@example.com"]
    refused = inbound.rejections()[-1]
    assert (refused["stage"], refused["recipient"], refused["reply"]) == (
        "rcpt", "<gi\x00na@example.com>", "501 5.1.3 Invalid RCPT TO address provided"
    )
    assert "U+0000" in refused["reason"]


@pytest.mark.parametrize(
    "path",
    [
        "<a..b@example.com>",  # empty atom
        "<.a@example.com>",
        "<a b@example.com>",  # unquoted space (aiosmtpd alone quotes it)
        "<a(comment)@example.com>",  # RFC 5322 comments are no part of an SMTP path
        "<a@-example.com>",  # label starting with a hyphen
        "<a@exa_mple.com>",
        "<a@example.com.>",
        "<a@[300.1.2.3]>",
        "<a\x7f@example.com>",
        "<a@example.com\x1b>",
        "<" + "x" * 65 + "@example.com>",  # local part over 64 octets
        "<a@example.com",
    ],
)
def test_malformed_recipients_are_refused_with_501(inbound, path: str):
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        client.mail("alice@sender.test")
        assert client.docmd("RCPT", f"TO:{path}") == (501, b"5.1.3 Invalid RCPT TO address provided")
        assert client.docmd("RCPT", "TO:<ivy@example.com>")[0] == 250  # the transaction goes on


def test_malformed_sender_is_refused_with_501_and_a_valid_one_is_taken_after_it(inbound):
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<al\x00ice@sender.test>") == (
            501, b"5.1.7 Invalid MAIL FROM address provided"
        )
        assert client.docmd("MAIL", "FROM:<a..lice@sender.test>")[0] == 501
        assert client.docmd("MAIL", "FROM:<alice@sender.test> SIZE=100")[0] == 250
    assert inbound.rejections()[-1]["stage"] == "mail"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ('<"jo smith"@example.com>', 250),  # quoted local part
        ("<jo+tag@example.com>", 250),
        ("<@relay.example:jo@example.com>", 250),  # source route, ignored
        ("jo@example.com", 250),  # no brackets: accepted like SES's documented example
        ("<Postmaster>", 550),  # valid path, no rule covers it
    ],
)
def test_valid_paths_pass_the_syntax_check(inbound, path: str, code: int):
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<>")[0] == 250  # the null reverse-path
        assert client.docmd("RCPT", f"TO:{path}")[0] == code


def test_rules_run_in_order_and_stop_ends_the_rule_set(account, inbound):
    vip = send(inbound, "vip@example.net")  # rule entry is "VIP@example.net": matching ignores case
    trace = inbound.trace(vip.message_id)
    assert [r["rule"] for r in trace["rules"]] == ["vip"]
    assert trace["stoppedBy"] == "vip"
    assert account.objects(f"vip/{vip.message_id}")
    assert account.objects(f"net/{vip.message_id}") == []
    [stop] = account.notifications(account.topic_alerts, vip.message_id)
    assert stop["ses"]["receipt"]["action"] == {"type": "Stop", "topicArn": account.topic_alerts}

    other = send(inbound, "other@example.net")
    assert [r["rule"] for r in inbound.trace(other.message_id)["rules"]] == ["after-stop"]
    assert account.objects(f"net/{other.message_id}")


def test_disabled_rule_is_ignored(account, inbound):
    with pytest.raises(RecipientsRefusedError):
        send(inbound, "x@disabled.example.org")
    assert account.objects("disabled/") == []


def test_bounce_action_sends_a_bounce_to_the_outbox_and_notifies(account, inbound):
    result = send(inbound, "ghost@bounce.example.org")
    assert result.message_id  # SMTP accepted the mail: SES bounces afterwards
    [bounce] = [b for b in inbound.outbox() if b["originalMessageId"] == result.message_id]
    assert (bounce["from"], bounce["to"], bounce["recipients"]) == (
        "mailer-daemon@example.org",
        "alice@sender.test",
        ["ghost@bounce.example.org"],
    )
    assert (bounce["smtpReplyCode"], bounce["statusCode"], bounce["reason"]) == ("550", "5.1.1", "BounceAction")
    assert "Final-Recipient: rfc822; ghost@bounce.example.org" in bounce["raw"]
    assert "multipart/report" in bounce["raw"]
    [alert] = account.notifications(account.topic_alerts, result.message_id)
    assert alert["ses"]["receipt"]["action"] == {
        "type": "Bounce",
        "topicArn": account.topic_alerts,
        "smtpReplyCode": "550",
        "statusCode": "5.1.1",
        "message": "Mailbox does not exist",
        "sender": "mailer-daemon@example.org",
    }
    assert inbound.trace(result.message_id)["stoppedBy"] == "bouncer"
    lines = (inbound.state_dir / "outbox.jsonl").read_text().splitlines()
    assert any(json.loads(line)["bounceId"] == bounce["bounceId"] for line in lines)


def test_tls_policy_require_needs_starttls(account, inbound):
    plain = send(inbound, "a@secure.example.org", starttls=False)
    trace = inbound.trace(plain.message_id)
    assert trace["tls"] is False
    assert "STARTTLS" in trace["rules"][0]["skipped"]
    assert account.objects(f"secure/{plain.message_id}") == []
    assert [b["reason"] for b in inbound.outbox() if b["originalMessageId"] == plain.message_id] == ["TlsPolicy"]

    secure = send(inbound, "a@secure.example.org")  # send_mail upgrades when STARTTLS is offered
    assert inbound.trace(secure.message_id)["tls"] is True
    assert account.objects(f"secure/{secure.message_id}")


def test_kms_key_on_the_s3_action_encrypts_the_stored_mail(account, inbound):
    raw = mail("k@kms.example.org", subject="secret")
    result = send(inbound, "k@kms.example.org", raw=raw)
    key = f"kms/{result.message_id}"
    response = account.client("s3").get_object(Bucket=account.bucket, Key=key)
    assert raw not in response["Body"].read()
    metadata = response["Metadata"]
    assert metadata["x-amz-cek-alg"] == "AES/GCM/NoPadding"
    assert json.loads(metadata["x-amz-matdesc"]) == {
        "aws:ses:message-id": result.message_id,
        "aws:ses:rule-name": "encrypted",
        "aws:ses:source-account": "123456789012",
    }
    plaintext = decrypt_object(account.client("s3"), account.client("kms"), account.bucket, key)
    assert plaintext.endswith(raw) and plaintext.startswith(b"Return-Path: <alice@sender.test>")
    [alert] = account.notifications(account.topic_alerts, result.message_id)
    assert alert["ses"]["receipt"]["action"]["kmsKeyArn"] == account.kms_key


def test_workmail_action_is_skipped_with_a_warning(account, inbound, caplog):
    with caplog.at_level(logging.WARNING, logger="harness.aws.ses"):
        result = send(inbound, "w@wm.example.org")
    actions = inbound.trace(result.message_id)["rules"][0]["actions"]
    assert [(a["type"], a["status"]) for a in actions] == [("WorkMail", "skipped"), ("S3", "ok")]
    assert any("'workmail'" in r.getMessage() and "WorkMail" in r.getMessage() for r in caplog.records)
    assert account.objects(f"wm/{result.message_id}")


def test_receipt_filters_refuse_blocked_peers_on_connect(account, inbound):
    ses = account.client("ses")
    ses.create_receipt_filter(Filter={"Name": "block-lab", "IpFilter": {"Policy": "Block", "Cidr": "127.0.0.2/31"}})
    ses.create_receipt_filter(Filter={"Name": "allow-relay", "IpFilter": {"Policy": "Allow", "Cidr": "127.0.0.3/32"}})
    try:
        with pytest.raises(smtplib.SMTPConnectError) as info:
            smtplib.SMTP(inbound.host, inbound.port, source_address=("127.0.0.2", 0))
        assert info.value.smtp_code == 554
        assert inbound.rejections()[-1] | {"at": None} == {
            "at": None,
            "stage": "connect",
            "peer": "127.0.0.2",
            "reply": "554 5.7.1 Access denied",
            "filter": "block-lab",
        }
        allowed = send(inbound, "g@example.com", source_address=("127.0.0.3", 0))
        assert inbound.trace(allowed.message_id)["peer"] == "127.0.0.3"
        assert send(inbound, "g@example.com").message_id  # 127.0.0.1 is not covered
    finally:
        ses.delete_receipt_filter(FilterName="block-lab")
        ses.delete_receipt_filter(FilterName="allow-relay")
    assert send(inbound, "g@example.com", source_address=("127.0.0.2", 0)).message_id


def test_size_limit_is_advertised_and_enforced_with_552(account, inbound):
    objects = len(account.objects())
    big = mail("h@example.com", size=MAX_BYTES + 10_000)
    with smtplib.SMTP(inbound.host, inbound.port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(MAX_BYTES)
        client.mail("alice@sender.test")  # no SIZE= parameter: the limit bites at DATA
        client.rcpt("h@example.com")
        code, _ = client.data(big)
        assert code == 552
    with pytest.raises(RecipientsRefusedError, match="552"):
        send(inbound, "h@example.com", raw=big)  # SIZE= declared: refused at MAIL FROM
    assert len(account.objects()) == objects


def test_sns_action_bounces_mail_over_150_kb_but_s3_keeps_it(account, inbound):
    result = send(inbound, "i@example.com", raw=mail("i@example.com", subject="big", size=160_000))
    actions = inbound.trace(result.message_id)["rules"][0]["actions"]
    assert [(a["type"], a["status"]) for a in actions] == [("AddHeader", "ok"), ("S3", "ok"), ("SNS", "bounced")]
    assert account.objects(f"inbound/{result.message_id}")
    assert account.notifications(account.topic_utf8, result.message_id, timeout=1.5) == []
    assert [b["reason"] for b in inbound.outbox() if b["originalMessageId"] == result.message_id] == ["SNS size"]


def test_s3_action_topic_notifies_mail_over_150_kb_without_content(account, inbound):
    """What the platform's rule relies on: only the SNS action has the 150 KB limit; the S3 action's topic
    notification (bucket, key, envelope, no content) comes for mail of any size."""
    result = send(inbound, "k@example.com", raw=mail("k@example.com", subject="big", size=160_000))
    [alert] = account.notifications(account.topic_alerts, result.message_id)
    assert "content" not in alert["ses"]
    assert alert["ses"]["receipt"]["action"]["objectKey"] == f"inbound/{result.message_id}"
    assert alert["ses"]["receipt"]["recipients"] == ["k@example.com"]
    assert account.objects(f"inbound/{result.message_id}")


def test_rule_changes_apply_without_restart(account, inbound):
    ses = account.client("ses")
    ses.create_receipt_rule_set(RuleSetName="catchall")
    ses.create_receipt_rule(
        RuleSetName="catchall",
        Rule={
            "Name": "everything",
            "Enabled": True,
            "Actions": [{"S3Action": {"BucketName": account.bucket, "ObjectKeyPrefix": "all/"}}],
        },
    )
    ses.set_active_receipt_rule_set(RuleSetName="catchall")
    try:
        result = send(inbound, "j@example.org")  # no recipients on the rule: any verified domain
        assert account.objects(f"all/{result.message_id}")
        trace = inbound.trace(result.message_id)
        assert (trace["ruleSet"], trace["tls"], trace["rules"][0]["rule"]) == ("catchall", True, "everything")
        with pytest.raises(RecipientsRefusedError):
            send(inbound, "j@unverified.test")
    finally:
        ses.set_active_receipt_rule_set(RuleSetName="main")
    with pytest.raises(RecipientsRefusedError):
        send(inbound, "j@example.org")


def test_lifecycle_on_a_given_port(account, tmp_path: Path):
    first = SesInbound(RuntimeContext.for_emulator(account.endpoint, REGION, tmp_path / "a"), starttls=False)
    with first:
        assert first.endpoint == f"smtp://127.0.0.1:{first.port}"
        with smtplib.SMTP(first.host, first.port) as client:
            assert not client.ehlo()[1].count(b"STARTTLS")
        with pytest.raises(PortInUseError):
            SesInbound(RuntimeContext.for_emulator(account.endpoint, REGION, tmp_path / "b"), port=first.port).start()
    again = SesInbound(RuntimeContext.for_emulator(account.endpoint, REGION, tmp_path / "c"), port=first.port,
                       starttls=False)
    with again:
        assert send(again, "k@example.com").message_id
    assert not again.running
    assert split_message(b"A: b\r\n\r\nbody") == (b"A: b\r\n", b"\r\nbody")
