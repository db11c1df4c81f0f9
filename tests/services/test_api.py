"""The API as a real process (uvicorn on a free port) over real HTTP, against a real PostgreSQL and moto."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from mailstack.aws import s3_client
from mailstack.config import DatabaseSettings
from mailstack.db import sync_pool
from mailstack.worker.events import ObjectRef
from mailstack.worker.ingest import Ingestor

from harness.core.ports import free_port
from harness.testing.service_rig import REGION, LocalPostgres, MailBuckets, database_environment
from tests.services.api_server import ApiProcess, api_environment
from tests.services.conftest import MAIL_FIXTURES
from tests.services.mail_factory import simple_mail
from tests.services.sns_signer import SnsSigner

pytestmark = pytest.mark.slow

TOKEN = "test-token-" + uuid.uuid4().hex
TOPIC = "arn:aws:sns:us-east-1:123456789012:mailstack-test-inbound"
INBOX = "support@mail.acme.test"


@dataclass
class Stack:
    api: ApiProcess
    database: DatabaseSettings
    buckets: MailBuckets
    ids: dict[str, str]
    raw: dict[str, bytes]

    def get(self, path: str, token: str | None = TOKEN, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.api.base_url}{path}", headers=headers, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.api.base_url}{path}", timeout=10, **kwargs)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database.conninfo()) as conn:
            return conn.execute(sql, params).fetchall()


def ingest(database: DatabaseSettings, buckets: MailBuckets, mails: dict[str, bytes]) -> dict[str, str]:
    s3 = boto3.client("s3", region_name=REGION)
    pool = sync_pool(database)
    ingestor = Ingestor(s3_client(REGION), pool, buckets.attachments_bucket, raw_mail_bucket=buckets.raw_mail_bucket)
    ids = {}
    try:
        for key, raw in mails.items():
            s3.put_object(Bucket=buckets.raw_mail_bucket, Key=key, Body=raw)
            ids[key] = str(ingestor.ingest(ObjectRef(buckets.raw_mail_bucket, key)).message_id)
    finally:
        pool.close()
    return ids


@pytest.fixture(scope="module")
def stack(postgres: LocalPostgres, migrated_template: str, moto_server, sns_signer: SnsSigner) -> Iterator[Stack]:
    database = postgres.create_database(f"api_{uuid.uuid4().hex[:8]}", template=migrated_template)
    buckets = MailBuckets.create()
    mails = {
        f"inbound/{name}": (MAIL_FIXTURES / name).read_bytes()
        for name in ("plain.eml", "attachments.eml", "forwarded.eml")
    }
    mails.update({f"inbound/extra-{i}": simple_mail(f"extra {i}", INBOX) for i in range(3)})
    ids = ingest(database, buckets, mails)
    api = ApiProcess(api_environment(
        moto_server, database, buckets, token=TOKEN, trusted_cert_url_pattern=sns_signer.trusted_pattern,
        topic_arns=TOPIC, max_body_bytes=65536,
    ))
    try:
        yield Stack(api.start(), database, buckets, ids, mails)
    finally:
        api.cleanup()


def test_health(stack: Stack):
    response = stack.get("/health", token=None)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_idle_keep_alive_connection_outlives_uvicorns_default(stack: Stack):
    """The ALB reuses idle connections for up to its idle timeout; the API must not close them first (uvicorn
    closes after 5 s by default, and a request sent on the closing connection becomes a 502)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.api.port, timeout=10)
    try:
        connection.request("GET", "/health")
        assert connection.getresponse().read() and connection.sock is not None
        time.sleep(6)
        connection.request("GET", "/health")  # on the same socket: http.client reconnects only if it knows
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_healthcheck_command(stack: Stack):
    def healthcheck(port: int) -> int:
        return subprocess.run(
            [sys.executable, "-m", "mailstack", "healthcheck"], env={**os.environ, "PORT": str(port)}, timeout=30
        ).returncode

    assert healthcheck(stack.api.port) == 0
    assert healthcheck(free_port()) == 1


def test_v1_needs_the_token(stack: Stack):
    assert stack.get(f"/v1/inboxes/{INBOX}/messages", token=None).status_code == 401
    response = stack.get(f"/v1/inboxes/{INBOX}/messages", token="wrong")
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_inbox_listing_pages_with_a_cursor(stack: Stack):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = stack.get(f"/v1/inboxes/{INBOX}/messages", params=params)
        assert response.status_code == 200
        body = response.json()
        assert body["inbox"] == INBOX
        assert len(body["messages"]) <= 2
        seen += [m["id"] for m in body["messages"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = {stack.ids[k] for k in stack.ids if k != "inbound/attachments.eml"}
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == expected
    assert pages == 3


def test_inbox_listing_summary(stack: Stack):
    body = stack.get(f"/v1/inboxes/{INBOX.upper()}/messages").json()
    by_id = {m["id"]: m for m in body["messages"]}
    plain = by_id[stack.ids["inbound/plain.eml"]]
    assert plain["subject"] == "Invoice 2024-0042 is overdue"
    assert plain["from"] == {"header": "Alice Example <alice@sender.example>", "address": "alice@sender.example"}
    assert plain["date"] == "2024-06-03T08:15:00+00:00"
    assert plain["attachment_count"] == 0
    assert by_id[stack.ids["inbound/forwarded.eml"]]["attachment_count"] == 1


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "!!"}, "cursor"),
        # found by tests/services/test_api_fuzz.py: these were 500s
        ({"limit": "²"}, "limit"),  # str.isdigit() says yes, int() says no
        ({"limit": "9" * 5000}, "limit"),  # more digits than int() converts
        ({"cursor": _cursor(["2024-06-01T00:00:00+00:00", True])}, "cursor"),  # right shape, wrong types
        ({"cursor": base64.urlsafe_b64encode(b"[" * 3000).decode()}, "cursor"),  # RecursionError
    ],
)
def test_bad_paging_parameters_are_400(stack: Stack, params, message):
    response = stack.get(f"/v1/inboxes/{INBOX}/messages", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_inbox_address_with_a_nul_is_404_not_500(stack: Stack):
    """Found by the fuzzer: PostgreSQL refused the NUL and the API answered 500."""
    response = stack.get("/v1/inboxes/support%00@mail.acme.test/messages")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_unknown_inbox_is_404(stack: Stack):
    response = stack.get("/v1/inboxes/nobody@mail.acme.test/messages")
    assert response.status_code == 404
    assert response.json() == {"error": {"status": 404, "message": "inbox nobody@mail.acme.test not found"}}


def test_message_detail(stack: Stack):
    message_id = stack.ids["inbound/attachments.eml"]
    response = stack.get(f"/v1/messages/{message_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == message_id
    assert body["subject"] == "Your invoice and usage report"
    assert body["message_id"] == "<inv-88231@vendor.example>"
    assert body["envelope"] == {"from": "billing@vendor.example", "to": ["accounts@mail.acme.test"]}
    assert body["recipients"] == [
        {"kind": "to", "name": None, "address": "accounts@mail.acme.test"},
        {"kind": "envelope", "name": None, "address": "accounts@mail.acme.test"},
    ]
    assert ["From", "Vendor Billing <billing@vendor.example>"] in body["headers"]
    assert body["text_body"] == "Please find your invoice and the usage report attached.\n"
    assert body["html_body"] is None
    assert [a["filename"] for a in body["attachments"]] == [
        "invoice-88231.pdf",
        "Verbrauch Müller Juni.csv",
        "../../../etc/passwd",
    ]
    assert body["attachments"][0]["content_type"] == "application/pdf"
    assert body["raw"]["url"] == f"/v1/messages/{message_id}/raw"


def test_raw_message_is_streamed_back(stack: Stack):
    message_id = stack.ids["inbound/attachments.eml"]
    response = stack.get(f"/v1/messages/{message_id}/raw")
    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert response.content == stack.raw["inbound/attachments.eml"]


def test_attachment_download(stack: Stack):
    message_id = stack.ids["inbound/attachments.eml"]
    attachments = stack.get(f"/v1/messages/{message_id}").json()["attachments"]
    csv = attachments[1]
    response = stack.get(csv["url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.decode("utf-8").startswith("id;name;amount\n1;Müller")
    assert "filename*=UTF-8''Verbrauch%20M%C3%BCller%20Juni.csv" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.content) == csv["size"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/messages/not-a-uuid",
        f"/v1/messages/{uuid.UUID(int=1)}",  # fixed ids: pytest-xdist workers must collect the same test ids
        f"/v1/messages/{uuid.UUID(int=2)}/raw",
        f"/v1/messages/{uuid.UUID(int=3)}/attachments/{uuid.UUID(int=4)}",
        "/v1/nothing-here",
    ],
)
def test_not_found_is_404_json(stack: Stack, path: str):
    response = stack.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_wrong_method_is_405_json(stack: Stack):
    response = httpx.delete(
        f"{stack.api.base_url}/v1/messages/{stack.ids['inbound/plain.eml']}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405
    assert "GET" in response.headers["allow"]


def test_unexpected_failure_is_500_json(stack: Stack):
    broken_id = uuid.uuid4()
    with psycopg.connect(stack.database.conninfo()) as conn:
        conn.execute(
            "INSERT INTO messages (id, headers, size_bytes, raw_bucket, raw_key, received_at) "
            "VALUES (%s, '[]', 0, 'Not A Valid Bucket!', 'k', now())",
            (broken_id,),
        )
    response = stack.get(f"/v1/messages/{broken_id}/raw")
    assert response.status_code == 500
    assert response.json() == {"error": {"status": 500, "message": "internal server error"}}


def test_oversized_body_is_413(stack: Stack):
    response = stack.post("/v1/webhooks/aws/sns", content=b"x" * 70_000)
    assert response.status_code == 413
    assert response.json()["error"]["status"] == 413


# --- SNS webhook -------------------------------------------------------------------------------------


def post_sns(stack: Stack, message: dict[str, Any]) -> httpx.Response:
    return stack.post(
        "/v1/webhooks/aws/sns",
        content=json.dumps(message).encode(),
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": message.get("Type", "")},
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_subscription_confirmation_fetches_the_subscribe_url(stack: Stack, sns_signer: SnsSigner, version: str):
    message = sns_signer.subscription_confirmation(TOPIC, version=version)
    response = post_sns(stack, message)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "confirmed"}
    assert f"/confirm?Token={message['Token']}" in sns_signer.requests


def test_untrusted_subscribe_url_is_not_fetched(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.subscription_confirmation(TOPIC, subscribe_url="https://attacker.example/confirm")
    response = post_sns(stack, message)
    assert response.status_code == 403
    assert "SubscribeURL" in response.json()["error"]["message"]


def test_ses_received_notification_is_recorded(stack: Stack, sns_signer: SnsSigner):
    ses = {
        "notificationType": "Received",
        "mail": {"messageId": "ses-abc-123", "source": "alice@sender.example", "destination": [INBOX]},
        "receipt": {"action": {"type": "S3", "bucketName": "raw", "objectKey": "inbound/ses-abc-123"}},
    }
    message = sns_signer.notification(
        json.dumps(ses), TOPIC, subject="Amazon SES Email Receipt Notification", version="2"
    )
    for _ in range(2):  # a redelivery is recorded once
        response = post_sns(stack, message)
        assert response.status_code == 200
        assert response.json() == {"status": "recorded"}
    rows = stack.query(
        "SELECT sns_message_id, topic_arn, ses_message_id FROM sns_notifications WHERE sns_message_id = %s",
        message["MessageId"],
    )
    assert rows == [(message["MessageId"], TOPIC, "ses-abc-123")]


def test_ses_notification_with_nul_is_recorded_not_500(stack: Stack, sns_signer: SnsSigner):
    """JSON may carry \\u0000, PostgreSQL jsonb and text may not: stored with U+FFFD, every recipient kept."""
    recipients = ["ok@mail.acme.test", "b\x00ad@mail.acme.test", "also-ok@mail.acme.test"]
    ses = {
        "notificationType": "Received",
        "mail": {"messageId": "ses-nul\x00-1", "source": "x\x00@sender.example", "destination": recipients,
                 "commonHeaders": {"subject": "sub\x00ject"}},
        "receipt": {"recipients": recipients,
                    "action": {"type": "S3", "bucketName": "raw", "objectKey": "inbound/ses-nul"}},
    }
    message = sns_signer.notification(json.dumps(ses), TOPIC, version="2")
    response = post_sns(stack, message)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "recorded"}
    ((ses_message_id, payload),) = stack.query(
        "SELECT ses_message_id, payload FROM sns_notifications WHERE sns_message_id = %s", message["MessageId"]
    )
    assert ses_message_id == "ses-nul\ufffd-1"
    assert payload["receipt"]["recipients"] == [address.replace("\x00", "\ufffd") for address in recipients]
    assert payload["mail"]["commonHeaders"]["subject"] == "sub\ufffdject"


def test_other_notifications_are_accepted(stack: Stack, sns_signer: SnsSigner):
    response = post_sns(stack, sns_signer.notification("plain text", TOPIC))
    assert response.status_code == 200
    assert response.json() == {"status": "received"}


def test_unsubscribe_confirmation(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.subscription_confirmation(TOPIC, message_type="UnsubscribeConfirmation")
    assert post_sns(stack, message).json() == {"status": "unsubscribed"}


def test_forged_notification_is_403(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.notification("hello", TOPIC)
    message["Message"] = "tampered"
    response = post_sns(stack, message)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "invalid SNS signature"


def test_untrusted_certificate_url_is_403(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.sign(
        {**sns_signer.notification("x", TOPIC), "SigningCertURL": "https://evil.example/cert.pem"}
    )
    assert post_sns(stack, message).status_code == 403


def test_other_topics_are_403(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.notification("x", "arn:aws:sns:us-east-1:123456789012:someone-else")
    assert post_sns(stack, message).status_code == 403


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"Type": "Weird"}).encode(), json.dumps({"Type": "Notification"}).encode()],
)
def test_malformed_webhook_bodies_are_400(stack: Stack, body: bytes):
    response = stack.post("/v1/webhooks/aws/sns", content=body)
    assert response.status_code in (400, 403)
    assert response.json()["error"]["status"] == response.status_code


# Found by tests/services/test_api_fuzz.py: each of these was a 500.


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000])
def test_deeply_nested_webhook_body_is_400(stack: Stack, body: bytes):
    response = stack.post("/v1/webhooks/aws/sns", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "body is not JSON"


def test_signed_notification_with_a_deeply_nested_message_is_not_an_ses_receipt(stack: Stack, sns_signer: SnsSigner):
    response = post_sns(stack, sns_signer.notification("[" * 5000 + "]" * 5000, TOPIC))
    assert response.status_code == 200
    assert response.json() == {"status": "received"}


@pytest.mark.parametrize("field", ["TopicArn", "MessageId"])
@pytest.mark.parametrize("value", [["a", "list"], {"a": "dict"}, "", "id\x00with-nul"])
def test_webhook_identifiers_must_be_clean_strings(stack: Stack, sns_signer: SnsSigner, field: str, value: Any):
    message = sns_signer.notification(json.dumps({"notificationType": "Received", "mail": {}}), TOPIC)
    message[field] = value
    if isinstance(value, str):
        message = sns_signer.sign(message)  # validly signed, still refused
    response = post_sns(stack, message)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def test_signing_cert_url_with_a_trailing_newline_is_not_trusted(stack: Stack, sns_signer: SnsSigner):
    message = sns_signer.sign({**sns_signer.notification("x", TOPIC), "SigningCertURL": sns_signer.cert_url + "\n"})
    response = post_sns(stack, message)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "invalid SNS signature"


def test_subscribe_url_with_a_trailing_newline_is_not_fetched(stack: Stack, sns_signer: SnsSigner):
    url = f"{sns_signer.base_url}/confirm?Token=newline\n"
    message = sns_signer.subscription_confirmation(TOPIC, subscribe_url=url)
    response = post_sns(stack, message)
    assert response.status_code == 403
    assert "SubscribeURL" in response.json()["error"]["message"]
    assert not any("newline" in request for request in sns_signer.requests)


def test_lone_surrogate_in_a_signed_field_is_400(stack: Stack, sns_signer: SnsSigner):
    message = {**sns_signer.notification("x", TOPIC), "Message": "\ud800"}
    response = post_sns(stack, message)
    assert response.status_code == 400
    assert "Unicode" in response.json()["error"]["message"]


def test_validly_signed_stale_message_is_refused(stack: Stack, sns_signer: SnsSigner):
    """A captured message replayed later: signed by SNS, but dated 2015 (SNS stops retrying after an hour)."""
    ses = {"notificationType": "Received", "mail": {"messageId": "replayed"}}
    message = sns_signer.sign(
        {**sns_signer.notification(json.dumps(ses), TOPIC), "Timestamp": "2015-06-01T12:00:00.000Z"}
    )
    response = post_sns(stack, message)
    assert response.status_code == 403
    assert "older than" in response.json()["error"]["message"]
    assert stack.query("SELECT 1 FROM sns_notifications WHERE sns_message_id = %s", message["MessageId"]) == []


def test_api_logs_are_json(stack: Stack):
    lines = [line for line in stack.api.logs().splitlines() if line.strip()]
    assert lines
    for line in lines:
        json.loads(line)


def test_health_is_503_without_a_database(stack: Stack, moto_server):
    api = ApiProcess(
        {
            **moto_server.aws_environment(),
            **database_environment(DatabaseSettings("127.0.0.1", free_port(), "none", "nobody", "x")),
            "MAILSTACK_ENV": "test",
            "RAW_MAIL_BUCKET": "r",
            "ATTACHMENTS_BUCKET": "a",
            "API_TOKEN": TOKEN,
        }
    )
    try:
        api.start(wait_for_status=503)
        response = httpx.get(f"{api.base_url}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        result = subprocess.run(
            [sys.executable, "-m", "mailstack", "healthcheck"], env={**os.environ, "PORT": str(api.port)}, timeout=30
        )
        assert result.returncode == 1
    finally:
        api.cleanup()
