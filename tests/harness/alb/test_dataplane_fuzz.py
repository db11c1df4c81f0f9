"""Fuzzing the ALB data plane over real TCP and TLS: generated request lines, headers and framing, sent as
raw bytes to a forwarding, a redirecting and an HTTPS listener whose targets are healthy and well-behaved.

AWS answers a malformed request with 400; a 5xx from the load balancer itself would be a defect here
(502/503/504 are only right when a target misbehaves, and these do not). Seeded and bounded.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.aws.elbv2.dataplane import AlbDataPlane
from tests.harness.alb.conftest import AlbEnv
from tests.raw_http import FuzzCounter, RawResponse, exchange, request_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
FORWARD_PORT = 8080  # a plain-HTTP listener that forwards, added for the fuzz (the stack's :80 only redirects)


@dataclass
class Listeners:
    env: AlbEnv
    plane: AlbDataPlane
    tls: ssl.SSLContext
    counter: FuzzCounter = field(default_factory=FuzzCounter)

    def send(self, port: int, data: bytes) -> RawResponse | None:
        local = self.plane.local_port(port)
        tls = self.tls if port == 443 else None
        response = exchange("127.0.0.1", local, data, timeout=10, tls=tls, server_hostname=self.env.dns_name)
        self.counter.record(response.status if response else None)
        return response


@pytest.fixture
def listeners(env: AlbEnv, plane: AlbDataPlane):
    env.elbv2.create_listener(
        LoadBalancerArn=env.lb_arn,
        Port=FORWARD_PORT,
        Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": env.api_tg}],
    )
    plane.refresh()
    plane.wait_ready()
    fuzz = Listeners(env, plane, ssl.create_default_context(cafile=plane.ca_bundle_path))
    yield fuzz
    print(f"\nfuzz ALB: {fuzz.counter.summary()}")
    assert env.https().get("/whoami").status_code == 200, "the load balancer stopped serving after the fuzz"


NASTY = [
    b"%00", b"%ff", b"%zz", b"%", b"..", b"%2e%2e", b"%2f", b"\xc3\xa9", b"\xff", b"\x80", b"#frag", b"*", b"//",
    b"?", b"??", b"&", b"=", b"%0d%0a", b"\x7f", b"\x01", b"{}", b"|", b"\\", b"^", b"`",
]  # fmt: skip
piece = st.one_of(
    st.text(max_size=16).map(lambda text: quote(text, safe="/?=&").encode()),
    st.sampled_from(NASTY),
    st.binary(max_size=4),
)


@st.composite
def request_targets(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["origin", "origin", "origin", "absolute", "asterisk", "authority"]))
    path = b"".join(draw(st.lists(piece, max_size=4)))
    if kind == "absolute":
        return b"http://" + draw(st.sampled_from([b"example.com", b"a", b"[::1]", b"x:99999"])) + b"/" + path
    if kind == "asterisk":
        return b"*"
    if kind == "authority":
        return draw(st.sampled_from([b"example.com:443", b"127.0.0.1:80", b":"]))
    prefix = draw(st.sampled_from([b"/", b"/static/", b"/whoami", b""]))  # not /refused/: its target refuses
    return prefix + path


header_values = st.one_of(
    st.text(max_size=30).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=30).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"\x00", b"", b" ", b"\xff\xfe", b"a" * 2000]),
)
hosts = st.one_of(
    st.sampled_from([b"admin.example", b"", b"[::1]", b"example.com:", b"example.com:99999", b"\xff", b"x:y:z"]),
    header_values,
)
header_names = st.one_of(
    st.sampled_from(
        [b"X-Forwarded-For", b"X-Forwarded-Proto", b"X-Amzn-Trace-Id", b"Connection", b"Upgrade", b"Expect",
         b"Te", b"Trailer", b"Keep-Alive", b"Proxy-Connection", b"Content-Encoding", b"Cookie"]
    ),
    st.from_regex(rb"\A[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}\Z"),
)  # fmt: skip
NUMBERS = st.one_of(
    st.sampled_from([b"-1", b"+3", b"0x10", b"1e2", b"", b" 3", b"3 ", b"9" * 30, b"\xc2\xb2", b"3,3"]),
    st.binary(max_size=6),
)  # fmt: skip


@st.composite
def framing(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = draw(st.binary(max_size=200))
    length = str(len(body)).encode()
    chunked = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    kind = draw(st.sampled_from(["none", "length", "chunked", "two-lengths", "length-and-chunked", "odd-length", "te"]))
    if kind == "length":
        return [(b"Content-Length", length)], body
    if kind == "chunked":
        return [(b"Transfer-Encoding", b"chunked")], chunked
    if kind == "two-lengths":
        return [(b"Content-Length", length), (b"Content-Length", str(len(body) + 1).encode())], body
    if kind == "length-and-chunked":  # Transfer-Encoding wins; the length may be anything
        stale = str(len(body) + draw(st.integers(-len(body), 50))).encode()
        return [(b"Content-Length", stale), (b"Transfer-Encoding", b"chunked")], chunked
    if kind == "odd-length":
        return [(b"Content-Length", draw(NUMBERS))], body
    if kind == "te":
        coding = draw(st.sampled_from([b"gzip", b"chunked, gzip", b"identity", b"chunked\x00", b"xchunked", b"\xff"]))
        return [(b"Transfer-Encoding", coding)], chunked
    return [], b""


@st.composite
def raw_requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "CONNECT", "TRACE", "X"]))
    headers: list[tuple[bytes, bytes]] = []
    if draw(st.integers(0, 5)):
        headers.append((b"Host", draw(hosts)))
    headers += draw(st.lists(st.tuples(header_names, header_values), max_size=4))
    frame, body = draw(framing())
    version = draw(st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 ", b"http/1.1"]))
    data = request_bytes(method, draw(request_targets()), [(b"Connection", b"close"), *headers, *frame], body)
    return data.replace(b" HTTP/1.1\r\n", b" " + version + b"\r\n", 1)


@FUZZ
@given(port=st.sampled_from([FORWARD_PORT, FORWARD_PORT, 443, 80]), request=raw_requests())
def test_no_malformed_request_earns_a_5xx_from_the_load_balancer(listeners: Listeners, port: int, request: bytes):
    response = listeners.send(port, request)
    assert response is not None, request[:300]
    assert response.status < 500, (response.head[:200], request[:300])
