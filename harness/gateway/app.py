"""The gateway as an ASGI app: a streaming reverse proxy with call logging and fault injection, plus the
control API under `/_gateway/`.

Forwarding uses httpcore directly (httpx's client layers cost CPU on every call and add default headers).
Requests go to the backend the route table names for their service with method, raw path, query,
headers (Host included: the signature the client computed stays valid) and body unchanged; the body is
streamed, except a form-encoded one (query protocols), which is read first for its `Action`. Responses
come back with status, headers and body unchanged (only hop-by-hop headers are left to the server).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import httpcore

from harness.gateway import CONTROL_PREFIX, READY_PATH
from harness.gateway.calllog import CallLog, CallRecord
from harness.gateway.classify import FORM, Call, classify
from harness.gateway.errors import FAULT_HEADER, error_for, render
from harness.gateway.faults import Decision, FaultBook, RuleError, rule_from
from harness.gateway.reset import reset_connection
from harness.gateway.routing import RouteTable

if importlib.util.find_spec("sniffio") is None:
    # httpcore tries `import sniffio` on every request; without it each try searches all of sys.path
    # (a third of the gateway's CPU per call). A None entry makes that import fail at once.
    sys.modules["sniffio"] = None  # type: ignore[assignment]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DRAIN_LIMIT = 1 << 20  # bytes of a faulted request's body read before answering; beyond, the connection closes
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
              b"upgrade"}


class Gateway:
    def __init__(self, routes: RouteTable, log: CallLog, faults: FaultBook, timeout: float = 300.0) -> None:
        self.routes = routes
        self.log = log
        self.faults = faults
        self.timeout = timeout
        self._pool: httpcore.AsyncConnectionPool | None = None
        self._origins: dict[str, tuple[bytes, bytes, int | None]] = {}

    @property
    def pool(self) -> httpcore.AsyncConnectionPool:
        if self._pool is None:
            self._pool = httpcore.AsyncConnectionPool(max_connections=200, max_keepalive_connections=50)
        return self._pool

    def origin(self, backend: str) -> tuple[bytes, bytes, int | None]:
        """(scheme, host, port) of a backend URL, parsed once."""
        if backend not in self._origins:
            url = httpcore.URL(backend)
            self._origins[backend] = (url.scheme, url.host, url.port)
        return self._origins[backend]

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        self.log.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"].startswith(CONTROL_PREFIX + "/") or scope["path"] == CONTROL_PREFIX:
                await self._control(scope, receive, send)
            else:
                await self._proxy(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the proxy ---------------------------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        arrived = time.time()
        raw_headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        query_string: bytes = scope.get("query_string", b"")
        query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
        form: bytes | None = None
        if headers.get("content-type", "").startswith(FORM):
            form = await _read_all(receive)
        client = scope.get("client")
        call = classify(scope["method"], scope["path"], query, headers, form,
                        f"{client[0]}:{client[1]}" if client else None)
        decision = self.faults.decide(call)
        backend = self.routes.backend(call.service)
        status: int | None = None
        error: str | None = None
        try:
            if decision.delay:
                await asyncio.sleep(decision.delay)
            rule = decision.rule
            # A fault answered before the request's body was read would leave that body on the connection:
            # a small one is read first (the connection stays open, like AWS answering a whole request); after
            # a large or chunked one the connection is closed (as AWS does when it refuses an upload early).
            close: list[tuple[bytes, bytes]] = []
            if rule is not None and form is None and _has_body(raw_headers):
                if int(_header(raw_headers, b"content-length") or DRAIN_LIMIT + 1) <= DRAIN_LIMIT:
                    await _read_all(receive)
                else:
                    close = [(b"connection", b"close")]
            if rule is not None and rule.kind == "blackout":
                backend = None
                if not await reset_connection(send):
                    status = 502
                    await _answer(send, 502, [*close, (FAULT_HEADER, b"blackout")], b"")
            elif rule is not None:
                backend = None
                aws_error = error_for(rule.kind, call.service, rule.code, rule.status, rule.message)
                status, err_headers, body = render(aws_error, call.protocol, call.service)
                await _answer(send, status, [*err_headers, *close, (FAULT_HEADER.encode(), rule.kind.encode())], body)
            else:
                status, error = await self._forward(scope, receive, send, raw_headers, query_string, form, backend)
        finally:
            self._record(call, scope, arrived, started, status, backend, decision, error)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, raw_headers: list[tuple[bytes, bytes]],
                       query_string: bytes, form: bytes | None, backend: str) -> tuple[int | None, str | None]:
        headers = [(k, v) for k, v in raw_headers if k not in HOP_BY_HOP]
        content: bytes | AsyncIterator[bytes]
        if form is not None:
            content = form
        elif any(k == b"transfer-encoding" for k, _ in raw_headers):
            content = _stream(receive)
            headers.append((b"transfer-encoding", b"chunked"))  # the server de-chunked it; the backend gets chunks
        elif _has_body(raw_headers):
            content = _stream(receive)
        else:
            content = b""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        scheme, host, port = self.origin(backend)
        url = httpcore.URL(scheme=scheme, host=host, port=port,
                           target=raw_path + (b"?" + query_string if query_string else b""))
        timeout = {"connect": 10.0, "read": self.timeout, "write": self.timeout, "pool": self.timeout}
        request = httpcore.Request(scope["method"].encode(), url, headers=headers, content=content,
                                   extensions={"timeout": timeout})
        try:
            response = await self.pool.handle_async_request(request)
        except httpcore.ConnectError as exc:
            message = f"gateway: backend {backend} refused: {exc}"
            await _answer(send, 502, [(b"content-type", b"text/plain")], message.encode())
            return 502, message
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            message = f"gateway: backend {backend} failed: {type(exc).__name__}: {exc}"
            await _answer(send, 502, [(b"content-type", b"text/plain")], message.encode())
            return 502, message
        try:
            out = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            async for chunk in response.aiter_stream():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException) as exc:
            return response.status, f"backend response broke off: {type(exc).__name__}: {exc}"
        finally:
            await response.aclose()
        return response.status, None

    def _record(self, call: Call, scope: Scope, arrived: float, started: float, status: int | None,
                backend: str | None, decision: Decision, error: str | None) -> None:
        self.log.add(CallRecord(
            seq=self.log.next_seq(), time=arrived, service=call.service, operation=call.operation,
            method=scope["method"], path=scope["path"], status=status,
            latency_ms=round((time.monotonic() - started) * 1000, 3), access_key=call.caller.access_key,
            caller=call.caller.name, source=call.caller.address, backend=backend, fault=decision.label, error=error,
        ))

    # -- the control API -----------------------------------------------------------------------------------

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope["path"][len(CONTROL_PREFIX):].rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        body = await _read_all(receive)
        try:
            status, answer = self._dispatch(method, path, query, body)
        except (RuleError, ValueError) as exc:
            status, answer = 400, {"error": str(exc)}
        await _answer(send, status, [(b"content-type", b"application/json")], json.dumps(answer).encode())

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == READY_PATH.removeprefix(CONTROL_PREFIX) and method == "GET":
            return 200, {"ready": True, "calls": self.log.seq}
        if path == "/calls" and method == "GET":
            return 200, self.log.query(since=int(query.get("since", 0)), service=query.get("service"),
                                       operation=query.get("operation"),
                                       limit=int(query["limit"]) if "limit" in query else None)
        if path == "/calls" and method == "DELETE":
            self.log.clear()
            return 200, {"cleared": True, "seq": self.log.seq}
        if path == "/faults" and method == "GET":
            return 200, {"seed": self.faults.seed, "rules": [r.describe() for r in self.faults.rules]}
        if path == "/faults" and method == "POST":
            data = json.loads(body or b"{}")
            rules = [self.faults.add(rule_from(d)) for d in (data if isinstance(data, list) else [data])]
            return 200, {"rules": [r.describe() for r in rules]}
        if path == "/faults" and method == "DELETE":
            self.faults.clear(seed=int(query["seed"]) if "seed" in query else None)
            return 200, {"cleared": True, "seed": self.faults.seed}
        if path.startswith("/faults/") and method == "DELETE":
            removed = self.faults.remove(path.removeprefix("/faults/"))
            return (200 if removed else 404), {"removed": removed}
        if path == "/routes" and method == "GET":
            return 200, self.routes.describe()
        if path.startswith("/routes/") and method == "PUT":
            url = json.loads(body or b"{}").get("url", "")
            if not str(url).startswith(("http://", "https://")):
                raise ValueError("PUT /routes/<service> needs {\"url\": \"http://host:port\"}")
            self.routes.set(path.removeprefix("/routes/"), url)
            return 200, self.routes.describe()
        return 404, {"error": f"no control endpoint {method} {CONTROL_PREFIX}{path}"}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in headers if k == name), None)


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    length = _header(headers, b"content-length")
    chunked = _header(headers, b"transfer-encoding") is not None
    return chunked or (length is not None and length.strip() not in (b"", b"0"))


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _stream(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]] | list[tuple[str, bytes]],
                  body: bytes) -> None:
    raw = [(k.encode() if isinstance(k, str) else k, v) for k, v in headers]
    if not any(k == b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
