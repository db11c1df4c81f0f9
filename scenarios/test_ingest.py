"""Every kind of mail lands intact, a redelivered S3 event makes no second message, and mail no receipt
rule covers is refused at SMTP and leaves nothing behind.

What "intact" means is computed here, independently of the services, from the fixture with the
standard library's email package: what the API returns (subject, From, recipients, decoded text and
HTML bodies, each attachment's name, content type, size, SHA-256 and Content-ID) must match it.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.core.rundir import RunDir
from harness.testing import EcsControl
from harness.testing.queue_worker import QueueWorker
from harness.testing.reporting import read_json_lines
from harness.testing.smtp_client import RecipientsRefusedError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
MAIL_FIXTURES = sorted(FIXTURES.glob("*.eml"))
pytestmark = pytest.mark.scenario
# Mail sent over SMTP, ingested by the worker from the inbound queue, read back through the API.
END_TO_END = pytest.mark.depends_on("api-service", "database", "inbound-queue", "worker-service")

INGEST_TIMEOUT = 90


# ---- what the mail should look like, from the standard library alone ------------------------------------
@dataclass
class Expected:
    subject: str | None
    from_header: str | None
    from_address: str | None
    recipients: list[tuple[str, str, str]]  # (kind, display name, address) from To/Cc/Bcc, in order
    text_body: str | None
    html_body: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)


_BARE_LF = re.compile(rb"(?<!\r)\n")


def on_the_wire(raw: bytes) -> bytes:
    """The bytes SMTP carries: CRLF line ends (what any MTA sends)."""
    return _BARE_LF.sub(b"\r\n", raw)


def _header(message: Message, name: str) -> Any:
    try:
        return message[name]
    except Exception:  # a malformed header the modern parser chokes on
        return None


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for raw in (value for key, value in message.raw_items() if key.lower() == name.lower()):
        try:
            addresses = message.policy.header_fetch_parse(name, raw).addresses
            found.extend((a.display_name, a.addr_spec) for a in addresses if a.addr_spec and a.addr_spec != "<>")
        except Exception:  # the structured parser gave up: read the raw value leniently
            found.extend((display, addr) for display, addr in email.utils.getaddresses([str(raw)]) if "@" in addr)
    return found


def _decode_text(data: bytes, charset: str | None) -> str:
    """Decode in the declared charset; an unknown one or undecodable bytes do not lose the rest of the text.
    PostgreSQL text cannot hold NUL, so it stands as U+FFFD."""
    name = (charset or "us-ascii").strip('"').lower()
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = "utf-8"
    if codec == "ascii":
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
    else:
        text = data.decode(codec, "replace")
    return text.replace("\x00", "\ufffd")


def _source_body(raw: bytes, boundary: str, index: int) -> bytes:
    """The body bytes of the `index`-th part of the multipart delimited by `boundary`, as in the source."""
    section = (b"\r\n" + raw).split(b"\r\n--" + boundary.encode())[index + 1]
    after_delimiter_line = section.split(b"\r\n", 1)[1]
    return after_delimiter_line.split(b"\r\n\r\n", 1)[1]


def _leaves(part: Message, raw: bytes) -> Iterator[tuple[Message, bytes]]:
    """Leaf parts with their content bytes; an attached message (message/rfc822) is one leaf, its bytes
    as they are in the source."""
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        boundary = part.get_boundary() or ""
        for index, child in enumerate(part.get_payload()):
            if child.get_content_type() == "message/rfc822":
                yield child, _source_body(raw, boundary, index)
            else:
                yield from _leaves(child, raw)
        return
    yield part, part.get_payload(decode=True) or b""


def expected_from(raw: bytes) -> Expected:
    message = email.message_from_bytes(raw, policy=policy.default)
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[dict[str, Any]] = []
    for part, content in _leaves(message, raw):
        content_type = part.get_content_type()
        filename = part.get_filename() or None
        disposition = part.get_content_disposition()
        if content_type in ("text/plain", "text/html") and disposition != "attachment" and filename is None:
            (texts if content_type == "text/plain" else htmls).append(_decode_text(content, part.get_content_charset()))
            continue
        cid = part.get("Content-ID")
        content_id = str(cid).strip().strip("<>") if cid else None
        attachments.append(
            {
                "filename": filename,
                "content_type": content_type,
                "content_id": content_id,
                "inline": disposition == "inline" or (disposition is None and content_id is not None),
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    from_header = _header(message, "From")
    from_addresses = _addresses(message, "From")
    subject = _header(message, "Subject")
    return Expected(
        subject=str(subject).strip() if subject is not None else None,
        from_header=str(from_header) if from_header is not None else None,
        from_address=from_addresses[0][1] if from_addresses else None,
        recipients=[(kind, name, addr) for kind in ("to", "cc", "bcc") for name, addr in _addresses(message, kind)],
        text_body="\n".join(texts) if texts else None,
        html_body="\n".join(htmls) if htmls else None,
        attachments=attachments,
    )


# ---- reading it back -------------------------------------------------------------------------------------
def _inbox(api: Any, address: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/inboxes/{address}/messages")
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return list(response.json()["messages"])


def ingested(api: Any, eventually: Callable[..., Any], address: str) -> dict[str, Any]:
    """The one message in `address`'s inbox, in full, once the worker has ingested it."""
    listing = eventually(lambda: _inbox(api, address), timeout=INGEST_TIMEOUT, what=f"a message in {address}'s inbox")
    assert len(listing) == 1, f"{address} holds {len(listing)} messages, expected 1: {listing}"
    detail = api.get(f"/v1/messages/{listing[0]['id']}")
    detail.raise_for_status()
    return dict(detail.json())


def assert_lands_intact(api: Any, detail: dict[str, Any], raw: bytes, envelope_to: list[str]) -> None:
    expected = expected_from(raw)
    assert detail["subject"] == expected.subject
    assert detail["from"] == {"header": expected.from_header, "address": expected.from_address}
    header_recipients = [
        (r["kind"], r["name"] or "", r["address"]) for r in detail["recipients"] if r["kind"] != "envelope"
    ]
    assert header_recipients == expected.recipients
    assert [r["address"] for r in detail["recipients"] if r["kind"] == "envelope"] == [a.lower() for a in envelope_to]
    assert detail["text_body"] == expected.text_body
    assert detail["html_body"] == expected.html_body
    got = [
        {k: a[k] for k in ("filename", "content_type", "content_id", "inline", "size", "sha256")}
        for a in detail["attachments"]
    ]
    assert got == expected.attachments
    for attachment in detail["attachments"]:  # what is stored is what was sent, byte for byte
        content = api.get(attachment["url"])
        assert content.status_code == 200, f"{attachment['url']}: {content.status_code} {content.text[:200]}"
        assert hashlib.sha256(content.content).hexdigest() == attachment["sha256"]
        assert content.headers["content-type"].split(";")[0] == attachment["content_type"]
    assert detail["size"] > len(raw)  # the stored object: SES's headers prepended to the mail as received
    stored = api.get(detail["raw"]["url"])
    assert stored.status_code == 200 and stored.content.endswith(raw)


# ---- scenarios -------------------------------------------------------------------------------------------
@END_TO_END
@pytest.mark.parametrize("eml", MAIL_FIXTURES, ids=[p.stem for p in MAIL_FIXTURES])
def test_sample_mail_lands_intact(eml: Path, mail: Any, api: Any, eventually: Callable[..., Any]) -> None:
    recipient = mail.address("inbox")
    raw = on_the_wire(eml.read_bytes())
    sent = mail.send(raw=raw, sender=envelope_sender(raw), to=[recipient])
    assert sent.accepted == [recipient] and sent.message_id

    detail = ingested(api, eventually, recipient)
    assert_lands_intact(api, detail, raw, [recipient])
    assert detail["raw"]["key"].endswith(sent.message_id)
    if eml.stem == "malformed":
        assert detail["defects"], "a malformed mail is stored with the problems the parser found"
    else:
        assert expected_from(raw).text_body == _stdlib_body(raw, "plain")
        assert expected_from(raw).html_body == _stdlib_body(raw, "html")


def envelope_sender(raw: bytes) -> str:
    """MAIL FROM for a fixture: its Return-Path, else its From; a null or unreadable one becomes a
    bounce address (the SMTP client here cannot send the null reverse-path)."""
    headers = email.message_from_bytes(raw, policy=policy.compat32)
    for name in ("Return-Path", "From"):
        address = email.utils.parseaddr(str(headers.get(name) or ""))[1]
        if re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+", address):
            return address
    return "mailer-daemon@sender.example"


def _stdlib_body(raw: bytes, subtype: str) -> str | None:
    """The standard library's own idea of the message body (a cross-check of `expected_from`)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=(subtype,))
    return None if part is None else str(part.get_content())


@END_TO_END
def test_large_mail_with_5_mb_of_attachments_lands_intact(mail: Any, api: Any, eventually: Callable[..., Any]) -> None:
    recipient = mail.address("large")
    message = EmailMessage()
    message["From"] = "Archive <archive@sender.example>"
    message["To"] = recipient
    message["Subject"] = f"Quarterly archive {uuid.uuid4().hex[:8]}"
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = email.utils.make_msgid(domain="sender.example")
    message.set_content("Five megabytes of attachments follow.\n")
    message.add_alternative("<p>Five megabytes of attachments follow.</p>\n", subtype="html")
    rng = random.Random(20240614)
    for index, (size, maintype, subtype) in enumerate(
        [(2_000_000, "application", "octet-stream"), (2_000_000, "application", "zip"), (1_242_880, "image", "jpeg")]
    ):
        message.add_attachment(
            rng.randbytes(size), maintype=maintype, subtype=subtype, filename=f"part-{index}.{subtype}"
        )
    raw = on_the_wire(message.as_bytes(policy=policy.SMTP))
    assert len(raw) > 5 * 1024 * 1024

    sent = mail.send(raw=raw, to=[recipient])
    detail = ingested(api, eventually, recipient)
    assert_lands_intact(api, detail, raw, [recipient])
    assert sum(a["size"] for a in detail["attachments"]) == 5_242_880
    assert detail["raw"]["key"].endswith(str(sent.message_id))


@END_TO_END
def test_mail_to_several_recipients_is_listed_in_each_inbox(
    mail: Any, api: Any, eventually: Callable[..., Any]
) -> None:
    recipients = [mail.address(f"member{index}") for index in range(1, 4)]
    sent = mail.send(eml=FIXTURES / "many-recipients.eml", to=recipients)
    assert sent.accepted == recipients
    first = ingested(api, eventually, recipients[0])
    # One transaction writes the message with all its recipients: every inbox lists it once the first does.
    assert {r: [m["id"] for m in _inbox(api, r)] for r in recipients} == {r: [first["id"]] for r in recipients}


@END_TO_END
def test_mail_over_150_kb_is_not_bounced_to_its_sender(
    stack: Any, mail: Any, api: Any, eventually: Callable[..., Any]
) -> None:
    recipient = mail.address("sized")
    sender = f"{mail.tag}@sender.example"
    sent = mail.send(sender=sender, to=[recipient], subject="200 KB of text", body="lorem ipsum\n" * 17_000)
    ingested(api, eventually, recipient)
    outbox = stack.paths.ses_outbox
    bounces = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
    assert [(b["smtpReplyCode"], b["message"]) for b in bounces if b["originalMessageId"] == sent.message_id] == []


# ---- a redelivered S3 event -------------------------------------------------------------------------------
def inbound_notification(aws: Any, bucket: str) -> dict[str, Any]:
    """The raw-mail bucket's queue notification (the worker's inbound queue), read from S3."""
    configuration = aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    queues = configuration.get("QueueConfigurations", [])
    assert len(queues) == 1, f"expected one queue notification on {bucket}, found {queues}"
    return dict(queues[0])


def queue_url_of(aws: Any, queue_arn: str) -> str:
    _, _, _, _region, account, name = queue_arn.split(":")
    return str(aws.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def queue_depth(aws: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def s3_event(bucket: str, key: str, size: int, etag: str, notification_id: str) -> str:
    """An S3 ObjectCreated:Put notification body, as S3 sends it to a queue (event structure 2.1)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": notification_id,
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": key, "size": size, "eTag": etag.strip('"'), "sequencer": "0"},
                    },
                }
            ]
        }
    )


def worker_log_entries(run_dir: Path, **match: Any) -> list[dict[str, Any]]:
    """JSON lines of every worker task's log whose fields equal `match`, oldest first."""
    entries: list[dict[str, Any]] = []
    for path in sorted(RunDir(run_dir).task_logs_dir.glob("*/worker.log")):
        entries.extend(e for e in read_json_lines(path) if all(e.get(k) == v for k, v in match.items()))
    return sorted(entries, key=lambda e: str(e.get("time", "")))


# How long the worker lets a mail's S3 event wait for SES's notification: 30 s in the task definition. The
# mail's own S3 event comes back (a duplicate) only after it, and the queue is empty only then.
SES_NOTIFICATION_GRACE = "WORKER_SES_NOTIFICATION_GRACE_SECONDS"
SCENARIO_GRACE_SECONDS = 2


def worker_of(stack: Any, ecs: EcsControl) -> QueueWorker:
    return QueueWorker(ecs, str(stack.state.outputs["ecs_service_names"]["worker"]),
                       str(stack.state.outputs["inbound_queue_url"]))


@pytest.mark.disturbs("inbound-queue", "worker-service")  # needs the queue to itself; runs the worker's grace short
@pytest.mark.depends_on("api-service", "database")
def test_the_same_s3_event_twice_makes_one_message(
    stack: Any, aws: Any, mail: Any, api: Any, db: Any, ecs: EcsControl, eventually: Callable[..., Any]
) -> None:
    """The worker runs with a short SES-notification grace (a task definition revision, the original back
    afterwards), so the mail's own S3 event is handled seconds after the mail instead of 30 s."""
    with worker_of(stack, ecs).running_with({SES_NOTIFICATION_GRACE: str(SCENARIO_GRACE_SECONDS)}):
        the_same_s3_event_twice_makes_one_message(stack, aws, mail, api, db, eventually)


def the_same_s3_event_twice_makes_one_message(
    stack: Any, aws: Any, mail: Any, api: Any, db: Any, eventually: Callable[..., Any]
) -> None:
    recipient = mail.address("twice")
    sent = mail.send(eml=FIXTURES / "plain.eml", to=[recipient])
    detail = ingested(api, eventually, recipient)
    bucket, key = detail["raw"]["bucket"], detail["raw"]["key"]
    assert key.endswith(str(sent.message_id))

    notification = inbound_notification(aws, bucket)
    queue_url = queue_url_of(aws, notification["QueueArn"])
    head = aws.client("s3").head_object(Bucket=bucket, Key=key)
    body = s3_event(bucket, key, head["ContentLength"], head["ETag"], notification.get("Id", "inbound"))
    again = aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]

    seen = eventually(
        lambda: worker_log_entries(stack.run_dir, sqs_message_id=again, s3_key=key),
        timeout=INGEST_TIMEOUT,
        what=f"the worker handling the repeated event (SQS message {again})",
    )
    assert [e["outcome"] for e in seen] == ["duplicate"], seen
    assert (
        db.execute("select count(*) from messages where raw_bucket = %s and raw_key = %s", (bucket, key)).fetchone()[0]
        == 1
    )
    assert [m["id"] for m in _inbox(api, recipient)] == [detail["id"]]
    # The repeated event was deleted, not left to come back and end in the DLQ: the queue holds nothing in
    # flight well before its visibility timeout would return an undeleted message (and no delete failed).
    handled = time.monotonic()
    visibility_timeout = int(
        aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
    )
    eventually(
        lambda: queue_depth(aws, queue_url),
        lambda depth: depth == (0, 0),
        timeout=visibility_timeout * 0.8,
        what="the inbound queue empty, nothing in flight",
    )
    assert time.monotonic() - handled < visibility_timeout
    assert [e["outcome"] for e in worker_log_entries(stack.run_dir, sqs_message_id=again)] == ["duplicate"]


# ---- mail no rule covers ---------------------------------------------------------------------------------
def _rule_covers(recipient_spec: str, address: str) -> bool:
    """SES receipt-rule matching: an address, a domain, or `.domain` for its subdomains."""
    address = address.lower()
    spec = recipient_spec.lower()
    domain = address.rpartition("@")[2]
    if "@" in spec:
        return address == spec
    if spec.startswith("."):
        return domain.endswith(spec)
    return domain == spec


def _s3_objects_since(aws: Any, bucket: str, prefix: str, since: float) -> Iterator[bytes]:
    s3 = aws.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["LastModified"].timestamp() >= since - 1:
                yield s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()


@pytest.mark.depends_on("database", "inbound-queue", "worker-service")  # one recipient of it is covered
def test_mail_no_rule_covers_is_refused_and_leaves_nothing(stack: Any, aws: Any, mail: Any, db: Any) -> None:
    rules = [r for r in aws.client("ses").describe_active_receipt_rule_set()["Rules"] if r.get("Enabled")]
    specs = [spec for rule in rules for spec in rule.get("Recipients", [])]
    stores = [
        (a["S3Action"]["BucketName"], a["S3Action"].get("ObjectKeyPrefix", ""))
        for rule in rules
        for a in rule["Actions"]
        if "S3Action" in a
    ]
    assert specs and stores, "the active rule set has no enabled rule that names recipients and stores mail in S3"
    stranger = f"{mail.tag}@not-{stack.mail_domains[0]}"
    assert not any(_rule_covers(spec, stranger) for spec in specs), f"{stranger} is covered by {specs}"

    started = time.time()
    refused_subject = f"nobody home {mail.tag}"
    with pytest.raises(RecipientsRefusedError) as refused:
        mail.send(sender="someone@sender.example", to=[stranger], subject=refused_subject, body="hello?")
    code, reply = refused.value.refused[stranger]
    assert code == 550, f"{code} {reply}"

    # In a transaction with a covered recipient, only the stranger is refused and only the other is delivered.
    covered = mail.address("covered")
    partial = mail.send(
        sender="someone@sender.example", to=[covered, stranger], subject=f"partly {mail.tag}", body="hi"
    )
    assert partial.accepted == [covered] and partial.refused[stranger][0] == 550
    [trace] = [t for t in stack.ses_traces() if t["messageId"] == partial.message_id]
    assert trace["recipients"] == [covered]

    # Nothing of the refused mail is kept: no SES trace, no S3 object under a rule's prefix, no row.
    assert not [t for t in stack.ses_traces() if stranger in t["recipients"]]
    rejections = [json.loads(line) for line in stack.paths.ses_rejections.read_text().splitlines()]
    assert [r["reply"][:3] for r in rejections if r.get("recipient") == stranger] == ["550", "550"]
    for bucket, prefix in stores:
        stored = list(_s3_objects_since(aws, bucket, prefix, started))
        assert not [body for body in stored if refused_subject.encode() in body]
    assert db.execute("select count(*) from messages where subject = %s", (refused_subject,)).fetchone()[0] == 0
    assert db.execute("select count(*) from inboxes where address = %s", (stranger,)).fetchone()[0] == 0
    assert (
        db.execute("select count(*) from recipients where kind = 'envelope' and address = %s", (stranger,)).fetchone()[
            0
        ]
        == 0
    )


# ---- what SES and the queue policy refuse ----------------------------------------------------------------
@END_TO_END
def test_a_recipient_with_nul_is_refused_at_smtp_and_every_other_recipient_gets_the_mail(
    mail: Any, api: Any, eventually: Callable[..., Any]
) -> None:
    good = [mail.address("nul-a"), mail.address("nul-b")]
    bad = mail.address("nul\x00c")
    raw = on_the_wire(
        f"From: someone@sender.example\nTo: {', '.join(good)}\nSubject: nul {mail.tag}\n"
        f"Message-ID: <{mail.tag}@sender.example>\n\nhello\n".encode()
    )
    sent = mail.send(raw=raw, sender="someone@sender.example", to=[good[0], bad, good[1]])
    assert sent.accepted == good
    assert sent.refused == {bad: (501, "5.1.3 Invalid RCPT TO address provided")}
    first = ingested(api, eventually, good[0])
    # The envelope of SES's notification (every accepted recipient) is the one stored: both inboxes list it.
    assert {r: [m["id"] for m in _inbox(api, r)] for r in good} == {r: [first["id"]] for r in good}


@pytest.mark.depends_on("inbound-queue")
def test_the_inbound_queue_refuses_senders_its_policy_does_not_allow(stack: Any, aws: Any) -> None:
    """The platform's queue policy lets only the raw-mail bucket and the inbound topic send; another account
    gets AccessDenied, as on AWS (the emulator enforces queue policies: patch sqs-queue-policy)."""
    queue_url = str(stack.state.outputs["inbound_queue_url"])
    outsider = boto3.client(
        "sqs",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id="outsider",
        aws_secret_access_key="outsider",
    )
    outsider.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "111111111111")
    )
    forged = s3_event(str(stack.state.outputs["attachments_bucket"]), "attachments/x", 1, "0", "inbound")
    with pytest.raises(ClientError) as refused:
        outsider.send_message(QueueUrl=queue_url, MessageBody=forged)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
