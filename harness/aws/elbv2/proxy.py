"""Forwarding one request to one target: header rewriting (X-Forwarded-*, X-Amzn-Trace-Id) and the
upstream HTTP exchange, with failures mapped to the status codes an ALB answers with."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterable
from urllib.parse import unquote, urlsplit

import httpx

from harness.aws.elbv2.model import Target

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
Headers = list[tuple[bytes, bytes]]


class UpstreamError(Exception):
    """The target could not answer: `status` is what the load balancer returns (502 or 504)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class MalformedRequestError(Exception):
    """The client's request cannot be forwarded as it is: the load balancer answers 400."""


def origin_form(method: str, raw_path: bytes) -> tuple[bytes, str]:
    """The request target as a target sees it, `(raw path, decoded path)`, from what the client sent.

    An absolute-form target (`GET http://host/x`) becomes its path, as servers must accept it (RFC 9112
    3.2.2); CONNECT, the asterisk form (`OPTIONS *`), the authority form and anything not starting with "/"
    cannot be forwarded to an origin server and are malformed, as is a path httpx cannot send unchanged.
    """
    if method == "CONNECT":
        raise MalformedRequestError("CONNECT is not forwarded by a load balancer")
    if raw_path[:1] != b"/":
        parts = urlsplit(raw_path.decode("latin-1"))
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise MalformedRequestError(f"request target {raw_path[:80]!r} is not in origin or absolute form")
        raw_path = (parts.path or "/").encode("latin-1")
    try:
        httpx.URL(scheme="http", host="target.invalid", raw_path=raw_path)
    except (httpx.InvalidURL, UnicodeDecodeError) as exc:
        raise MalformedRequestError(f"request target {raw_path[:80]!r} cannot be forwarded ({exc})") from exc
    return raw_path, unquote(raw_path.decode("ascii"))


def strip_hop_by_hop(headers: Headers) -> Headers:
    """Drop hop-by-hop headers, including any the Connection header names."""
    named = {
        token.strip().lower().encode()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    return [(n, v) for n, v in headers if n.lower().decode("latin-1") not in HOP_BY_HOP and n.lower() not in named]


def new_trace_id(now: float | None = None) -> str:
    """`1-<8 hex digits of epoch seconds>-<24 hex digits>`, the X-Ray id format ALB uses."""
    epoch = int(now if now is not None else time.time())
    return f"1-{epoch:08x}-{os.urandom(12).hex()}"


def trace_header(existing: str | None) -> str:
    """ALB keeps a client's `Root=` and adds `Self=`; otherwise it starts a new `Root=`."""
    if existing and "Root=" in existing:
        return f"Self={new_trace_id()};{existing}"
    return f"Root={new_trace_id()}"


def forwarded_headers(headers: Headers, client_ip: str, scheme: str, port: int) -> Headers:
    """The request headers as the target sees them: hop-by-hop gone (and Content-Length beside
    Transfer-Encoding), X-Forwarded-For appended to,
    X-Forwarded-Proto/-Port set to the listener's protocol and (Terraform) port, X-Amzn-Trace-Id set."""
    kept: Headers = []
    forwarded_for: list[str] = []
    trace: str | None = None
    # Transfer-Encoding overrides Content-Length, and a proxy must drop the latter before forwarding
    # (RFC 9112 6.3): the body goes on as it arrived, chunked, not as a stale length.
    chunked = any(name.lower() == b"transfer-encoding" for name, _ in headers)
    for name, value in strip_hop_by_hop(headers):
        lower = name.lower()
        if chunked and lower == b"content-length":
            continue
        if lower == b"x-forwarded-for":
            forwarded_for.append(value.decode("latin-1"))
        elif lower == b"x-amzn-trace-id":
            trace = value.decode("latin-1")
        elif lower not in (b"x-forwarded-proto", b"x-forwarded-port"):
            kept.append((name, value))
    chain = ", ".join([*forwarded_for, client_ip])
    kept += [
        (b"x-forwarded-for", chain.encode("latin-1")),
        (b"x-forwarded-proto", scheme.encode()),
        (b"x-forwarded-port", str(port).encode()),
        (b"x-amzn-trace-id", trace_header(trace).encode("latin-1")),
    ]
    return kept


class Forwarder:
    """Sends requests to targets over one pooled transport (no cookies, redirects or proxies in
    between: it talks to the target exactly as the load balancer would)."""

    def __init__(self) -> None:
        self._transport = httpx.AsyncHTTPTransport(
            verify=False,
            trust_env=False,
            retries=0,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        )

    async def send(
        self,
        method: str,
        scheme: str,
        target: Target,
        raw_path: bytes,
        headers: Headers,
        body: AsyncIterable[bytes] | None,
        idle_timeout: float,
    ) -> httpx.Response:
        """Send and return once the target's response headers arrived; the body stays to be streamed
        (`response.stream`), each read bounded by `idle_timeout`. Raises UpstreamError."""
        url = httpx.URL(scheme=scheme, host=target.id, port=target.port, raw_path=raw_path)
        request = httpx.Request(
            method,
            url,
            headers=headers,
            content=body,
            extensions={
                "timeout": {"connect": idle_timeout, "read": idle_timeout, "write": idle_timeout, "pool": idle_timeout}
            },
        )
        try:
            return await self._transport.handle_async_request(request)
        except httpx.TimeoutException as exc:
            raise UpstreamError(504, f"target {target.id}:{target.port} timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise UpstreamError(502, f"cannot connect to target {target.id}:{target.port} ({exc})") from exc
        except httpx.TransportError as exc:
            raise UpstreamError(502, f"target {target.id}:{target.port} failed ({type(exc).__name__}: {exc})") from exc

    async def aclose(self) -> None:
        await self._transport.aclose()
