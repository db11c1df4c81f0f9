"""Fuzzing the API over real HTTP (uvicorn, PostgreSQL, moto): generated paths, query strings, headers,
bodies and SNS envelopes, sent as raw bytes. No input may earn a 5xx or an unhandled error in the log,
and the server must stay up.

Seeded (`derandomize=True`) and bounded (`max_examples`), so every run sends the same inputs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.testing.service_rig import LocalPostgres, MailBuckets
from tests.raw_http import FuzzCounter, exchange, request_bytes
from tests.services.api_server import ApiProcess, api_environment
from tests.services.mail_factory import simple_mail
from tests.services.sns_signer import SnsSigner
from tests.services.test_api import ingest

pytestmark = pytest.mark.slow

TOKEN = "fuzz-token-" + uuid.uuid4().hex
TOPIC = "arn:aws:sns:us-east-1:123456789012:mailstack-fuzz"
INBOX = "fuzz@mail.acme.test"
MAX_BODY_BYTES = 8192
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Log lines that mean an input reached code that did not expect it (the API's 500 handler, uvicorn's last resort).
UNHANDLED = ("unhandled error", "Exception in ASGI application")


@dataclass
class FuzzTarget:
    api: ApiProcess
    message_id: str
    counters: dict[str, FuzzCounter]

    def send(self, counter: str, data: bytes) -> int | None:
        response = exchange("127.0.0.1", self.api.port, data, timeout=10)
        status = response.status if response else None
        self.counters.setdefault(counter, FuzzCounter()).record(status)
        return status

    def assert_healthy(self) -> None:
        assert httpx.get(f"{self.api.base_url}/health", timeout=10).status_code == 200
        unhandled = [line for line in self.api.logs().splitlines() if any(marker in line for marker in UNHANDLED)]
        assert not unhandled, "\n".join(unhandled[-3:])


@pytest.fixture(scope="module")
def target(postgres: LocalPostgres, migrated_template: str, moto_server, sns_signer: SnsSigner) -> Iterator[FuzzTarget]:
    database = postgres.create_database(f"fuzz_{uuid.uuid4().hex[:8]}", template=migrated_template)
    buckets = MailBuckets.create()
    ids = ingest(database, buckets, {"inbound/fuzz-1": simple_mail("fuzz", INBOX)})
    api = ApiProcess(api_environment(
        moto_server, database, buckets, token=TOKEN, trusted_cert_url_pattern=sns_signer.trusted_pattern,
        topic_arns=TOPIC, max_body_bytes=MAX_BODY_BYTES,
    ))
    fuzz = FuzzTarget(api.start(), ids["inbound/fuzz-1"], {})
    try:
        yield fuzz
    finally:
        for name, counter in fuzz.counters.items():
            print(f"\nfuzz {name}: {counter.summary()}")
        api.cleanup()


# --------------------------------------------------------------------------- strategies

NASTY_PIECES = [
    b"%00", b"%ff", b"%zz", b"%", b"%c3%28", b"..", b"%2e%2e", b"%2f", b"%0a", b"%0d%0a", b"\x00", b"\x7f",
    b"\xc3\xa9", b"\xff", b"a b", b"\t", b"%u0000", b"~", b";", b"{}", b"%7B%7D", b"%20", b"+",
]  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["²", "١٢", "٣", "0x10", "1e3", "+5", " 5", "5 ", "", "-0", "NaN", "9" * 5000, "0" * 5000 + "5"]),
    st.text(max_size=12),
)
piece = st.one_of(
    st.text(max_size=24).map(lambda text: quote(text, safe="").encode()),
    st.sampled_from(NASTY_PIECES),
    st.binary(max_size=6).map(lambda raw: quote(raw, safe="").encode()),
)
raw_piece = st.one_of(piece, st.binary(max_size=6))
segment = st.lists(piece, max_size=3).map(b"".join)
raw_segment = st.lists(raw_piece, max_size=3).map(b"".join)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
cursors = st.one_of(
    st.text(max_size=40),
    st.tuples(
        st.one_of(
            st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
            st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01T00:00:00"]),
            json_scalars,
        ),
        st.one_of(st.uuids().map(str), json_scalars),
    ).map(lambda pair: _cursor(list(pair))),
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6).map(_cursor),
)


@st.composite
def query_strings(draw: st.DrawFn) -> bytes:
    params: list[tuple[str, str]] = []
    if draw(st.booleans()):
        params.append(("limit", draw(NUMBERS)))
    if draw(st.booleans()):
        params.append(("cursor", draw(cursors)))
    for _ in range(draw(st.integers(0, 2))):
        params.append((draw(st.text(max_size=8)), draw(st.text(max_size=8))))
    encoded = b"&".join(quote(k, safe="").encode() + b"=" + quote(v, safe="").encode() for k, v in params)
    if draw(st.booleans()):
        encoded += draw(segment)  # raw, possibly broken, percent-encoding
    return encoded


@st.composite
def targets(draw: st.DrawFn, message_id: str, segments: st.SearchStrategy[bytes] = segment) -> bytes:
    first, second = draw(segments), draw(segments)
    template = draw(
        st.sampled_from(
            [
                b"/v1/inboxes/%s/messages",
                b"/v1/inboxes/" + INBOX.encode() + b"%s/messages",
                b"/v1/messages/%s",
                b"/v1/messages/" + message_id.encode() + b"%s",
                b"/v1/messages/%s/raw",
                b"/v1/messages/%s/attachments/%s",
                b"/v1/messages/" + message_id.encode() + b"/attachments/%s",
                b"/v1/webhooks/aws/sns%s",
                b"/health%s",
                b"/%s",
            ]
        )
    )
    path = template.replace(b"%s", first, 1).replace(b"%s", second, 1)
    query = draw(query_strings())
    return path + (b"?" + query if query or draw(st.booleans()) else b"")


COMMON_HEADERS = [
    b"X-Amz-Sns-Message-Type", b"Content-Type", b"Accept", b"X-Forwarded-For", b"Authorization", b"Expect",
    b"Connection", b"Cookie", b"Range", b"If-None-Match", b"Accept-Encoding", b"Origin", b"Host",
]  # fmt: skip
header_names = st.one_of(
    st.sampled_from(COMMON_HEADERS),
    st.from_regex(rb"\A[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}\Z"),
)
header_values = st.one_of(
    st.text(max_size=40).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=40).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"\x00", b"Bearer \x00", b"Bearer", b"100-continue", b"bytes=0-", b"*/*"]),
)


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda text: text.encode("utf-8")),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.integers(500, 4000).map(deep_json),
    st.integers(500, 2000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
)


@st.composite
def framed(draw: st.DrawFn, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and bytes that frame `body`: plain, chunked, or with conflicting or malformed lengths."""
    kind = draw(st.sampled_from(["length", "none", "chunked", "two-lengths", "length-and-chunked", "odd-length"]))
    length = str(len(body)).encode()
    chunked = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    if kind == "length":
        return [(b"Content-Length", length)], body
    if kind == "none":
        return [], b""
    if kind == "chunked":
        coding = draw(st.sampled_from([b"chunked", b"Chunked", b" chunked", b"gzip, chunked", b"identity"]))
        return [(b"Transfer-Encoding", coding)], chunked
    if kind == "two-lengths":
        other = str(len(body) + draw(st.integers(1, 5))).encode()
        return [(b"Content-Length", length), (b"Content-Length", other)], body
    if kind == "length-and-chunked":
        return [(b"Content-Length", length), (b"Transfer-Encoding", b"chunked")], chunked
    return [(b"Content-Length", draw(NUMBERS).encode("utf-8"))], body


@st.composite
def requests(draw: st.DrawFn, message_id: str) -> bytes:
    """Anything: odd methods, raw bytes in the target, garbage headers and framing."""
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "FOO"]))
    target = draw(targets(message_id, raw_segment))
    headers: list[tuple[bytes, bytes]] = [(b"Host", b"127.0.0.1"), (b"Connection", b"close")]
    authorization = draw(st.one_of(st.just(b"Bearer " + TOKEN.encode()), header_values, st.none()))
    if authorization is not None:
        headers.append((b"Authorization", authorization))
    headers += draw(st.lists(st.tuples(header_names, header_values), max_size=4))
    framing, body = draw(framed(draw(bodies)))
    return request_bytes(method, target, headers + framing, body)


@st.composite
def authorised_gets(draw: st.DrawFn, message_id: str) -> bytes:
    """Well-formed, authorised GETs whose path parameters and query strings are generated."""
    target = draw(targets(message_id))
    headers = [(b"Host", b"127.0.0.1"), (b"Connection", b"close"), (b"Authorization", b"Bearer " + TOKEN.encode())]
    return request_bytes("GET", target, headers)


# --------------------------------------------------------------------------- the fuzz tests


@settings(FUZZ, max_examples=600)
@given(data=st.data())
def test_no_generated_request_earns_a_5xx(target: FuzzTarget, data: st.DataObject):
    request = data.draw(requests(target.message_id))
    status = target.send("raw requests", request)
    assert status is not None and status < 500, request[:300]


@settings(FUZZ, max_examples=600)
@given(data=st.data())
def test_no_generated_path_or_query_earns_a_5xx(target: FuzzTarget, data: st.DataObject):
    request = data.draw(authorised_gets(target.message_id))
    status = target.send("authorised GETs", request)
    assert status is not None and status < 500, request[:300]


# --------------------------------------------------------------------------- the SNS webhook

SNS_FIELDS = [
    "Type", "MessageId", "TopicArn", "Message", "Subject", "Timestamp", "SignatureVersion", "Signature",
    "SigningCertURL", "SubscribeURL", "Token", "UnsubscribeURL",
]  # fmt: skip


@st.composite
def sns_envelopes(draw: st.DrawFn, signer: SnsSigner) -> tuple[bytes, bytes]:
    """An SNS message (signed by the test signer, or not), with some fields replaced by generated values:
    other types, control characters, untrusted or malformed URLs, old or unparsable timestamps."""
    kind = draw(st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]))
    if kind == "Notification":
        message = signer.notification(draw(st.text(max_size=60)), TOPIC, version=draw(st.sampled_from(["1", "2"])))
    else:
        message = signer.subscription_confirmation(TOPIC, message_type=kind)
    cert, confirm = signer.cert_url, f"{signer.base_url}/confirm"
    url_values = st.sampled_from(
        [cert + "\n", cert + "\r\n", cert + "\x00", cert + " x", cert.replace("/cert", "/%00"), confirm + "\n",
         confirm + "?a=\x00", "http://127.0.0.1:1/cert.pem", "http://[::1", "http://127.0.0.1:99999/", ""]
    )  # fmt: skip
    replacements = draw(
        st.dictionaries(
            st.sampled_from(SNS_FIELDS),
            st.one_of(
                json_values,
                url_values,
                st.sampled_from(
                    ["2015-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z", "not a date", "\x00", "\ud800", "id\x00"]
                ),
            ),
            max_size=3,
        )
    )
    message.update(replacements)
    if replacements and draw(st.booleans()):
        with contextlib.suppress(Exception):  # a validly signed message with odd content (if it can be signed)
            message = signer.sign(message, version=str(message.get("SignatureVersion")))
    header = draw(st.one_of(st.just(str(message.get("Type")).encode("utf-8", "replace")), header_values))
    return json.dumps(message).encode(), header


@settings(FUZZ, max_examples=500)
@given(data=st.data())
def test_no_generated_sns_message_earns_a_5xx(target: FuzzTarget, sns_signer: SnsSigner, data: st.DataObject):
    body, message_type = data.draw(
        st.one_of(
            sns_envelopes(sns_signer),
            st.tuples(bodies, st.just(b"Notification")),
        )
    )
    request = request_bytes(
        "POST",
        b"/v1/webhooks/aws/sns",
        [
            (b"Host", b"127.0.0.1"),
            (b"Connection", b"close"),
            (b"Content-Type", b"text/plain; charset=UTF-8"),
            (b"x-amz-sns-message-type", message_type),
            (b"Content-Length", str(len(body)).encode()),
        ],
        body,
    )
    status = target.send("SNS webhook", request)
    # The one documented 5xx: a trusted SubscribeURL that cannot be fetched is a failed confirmation (502), which
    # SNS retries; the fuzzer's URLs include unreachable ones on the trusted host (127.0.0.1:1, :99999).
    confirming = status == 502 and _message_type(body) == "SubscriptionConfirmation"
    assert status is not None and (status < 500 or confirming), request[:300]


def _message_type(body: bytes) -> object:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):  # the fuzzer's bodies include very deep JSON
        return None
    return message.get("Type") if isinstance(message, dict) else None


def test_api_is_up_and_logged_no_unhandled_error_after_fuzzing(target: FuzzTarget):
    """Runs after the fuzz tests (file order): inputs that earned a 4xx must not have logged an unhandled error."""
    target.assert_healthy()
