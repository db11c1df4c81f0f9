"""The request path of one listener, as an ASGI app: match a rule, then redirect, answer a fixed
response, or forward to a healthy target; count everything in the metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any

from harness.aws.elbv2.balancer import RoundRobin, WeightedChooser
from harness.aws.elbv2.checker import HealthMonitor
from harness.aws.elbv2.metrics import MetricsRecorder
from harness.aws.elbv2.model import Action, AlbModel, Listener, LoadBalancer
from harness.aws.elbv2.proxy import (
    Forwarder,
    Headers,
    MalformedRequestError,
    UpstreamError,
    forwarded_headers,
    origin_form,
    strip_hop_by_hop,
)
from harness.aws.elbv2.redirects import OriginalUrl, redirect_location
from harness.aws.elbv2.routing import RequestView, select_rule

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ELB_REASONS = {
    400: "Bad Request",
    408: "Request Time-out",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def elb_page(status: int) -> bytes:
    title = f"{status} {ELB_REASONS.get(status, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


async def _respond(send: Send, status: int, headers: Headers, body: bytes = b"") -> None:
    base = [
        (b"server", b"awselb/2.0"),
        (b"date", formatdate(usegmt=True).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": body})


class ClientDisconnectedError(Exception):
    """The client closed its connection before sending the whole request (AWS logs these as 460)."""


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError("client went away while sending the request body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class RequestRouter:
    """Shared by all listeners; `handle(listener_arn, ...)` serves one request on that listener."""

    def __init__(
        self,
        model: Callable[[], AlbModel],
        health: HealthMonitor,
        forwarder: Forwarder,
        metrics: MetricsRecorder,
        idle_timeout_scale: float = 1.0,
    ) -> None:
        self._model = model
        self._health = health
        self._forwarder = forwarder
        self._metrics = metrics
        self._idle_timeout_scale = idle_timeout_scale
        self._round_robin = RoundRobin()
        self._weighted = WeightedChooser()

    def app(self, listener_arn: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await self.handle(listener_arn, scope, receive, send)

        return asgi

    async def handle(self, listener_arn: str, scope: Scope, receive: Receive, send: Send) -> None:
        model = self._model()
        listener = model.listeners.get(listener_arn)
        lb = model.load_balancers.get(listener.load_balancer_arn) if listener else None
        if listener is None or lb is None:
            await _respond(send, 503, [(b"content-type", b"text/html")], elb_page(503))
            return
        self._metrics.count(lb.arn, "RequestCount")
        try:
            raw_path, path = origin_form(scope["method"], scope.get("raw_path") or scope.get("path", "/").encode())
        except MalformedRequestError as exc:
            log.info("listener %s:%s -> 400: %s", listener.protocol, listener.port, exc)
            await self._elb_error(send, lb.arn, 400)
            return
        scope = {**scope, "raw_path": raw_path, "path": path}
        headers: Headers = list(scope.get("headers", []))
        client_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        view = RequestView(
            method=scope["method"],
            path=scope.get("path", "/"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            host=next((v.decode("latin-1") for n, v in headers if n == b"host"), lb.dns_name),
            headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers),
            client_ip=client_ip,
        )
        rule = select_rule(listener.rules, view)
        action = rule.action if rule else Action(type="unsupported", unsupported_type="no rule")
        if action.type == "redirect" and action.redirect is not None:
            raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
            url = OriginalUrl(
                listener.scheme, view.hostname, listener.port, raw_path.decode("latin-1"), view.query_string
            )
            location = redirect_location(action.redirect, url)
            status = action.redirect.status_code
            self._count_elb(lb.arn, status)
            self._metrics.count(lb.arn, "HTTP_Redirect_Count")
            await _respond(send, status, [(b"location", location.encode("latin-1"))])
        elif action.type == "fixed-response" and action.fixed_response is not None:
            fixed = action.fixed_response
            self._count_elb(lb.arn, fixed.status_code)
            self._metrics.count(lb.arn, "HTTP_Fixed_Response_Count")
            await _respond(
                send, fixed.status_code, [(b"content-type", fixed.content_type.encode())], fixed.message_body.encode()
            )
        elif action.type == "forward":
            await self._forward(lb, listener, action, scope, receive, send, headers, client_ip)
        else:
            log.warning("listener %s: action %r is not emulated; answering 500", listener.arn, action.unsupported_type)
            await self._elb_error(send, lb.arn, 500)

    async def _forward(
        self,
        lb: LoadBalancer,
        listener: Listener,
        action: Action,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        client_ip: str,
    ) -> None:
        tg_arn = self._weighted.pick(action.target_groups, lambda arn: bool(self._health.routable(arn)))
        target = self._round_robin.pick(tg_arn, self._health.routable(tg_arn)) if tg_arn else None
        model = self._model()
        tg = model.target_groups.get(tg_arn) if tg_arn else None
        if tg_arn is None or target is None or tg is None:
            await self._elb_error(send, lb.arn, 503)
            return
        self._metrics.count_target_group(lb.arn, tg_arn, "RequestCount")
        has_body = any(n in (b"content-length", b"transfer-encoding") for n, _ in headers)
        started = time.perf_counter()
        try:
            response = await self._forwarder.send(
                method=scope["method"],
                scheme="https" if tg.protocol == "HTTPS" else "http",
                target=target,
                raw_path=self._raw_path_with_query(scope),
                headers=forwarded_headers(headers, client_ip, listener.scheme, listener.port),
                body=_request_body(receive) if has_body else None,
                idle_timeout=lb.idle_timeout_seconds / self._idle_timeout_scale,
            )
        except ClientDisconnectedError as exc:
            log.info("listener %s:%s: %s", listener.protocol, listener.port, exc)
            return
        except UpstreamError as exc:
            log.info("listener %s:%s -> %s", listener.protocol, listener.port, exc.detail)
            if exc.status == 502:
                self._metrics.count(lb.arn, "TargetConnectionErrorCount", tg_arn)
            await self._elb_error(send, lb.arn, exc.status)
            return
        self._metrics.response_time(lb.arn, tg_arn, time.perf_counter() - started)
        self._metrics.count(lb.arn, f"HTTPCode_Target_{response.status_code // 100}XX_Count", tg_arn)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": strip_hop_by_hop(response.headers.raw),
                }
            )
            async for chunk in response.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    @staticmethod
    def _raw_path_with_query(scope: Scope) -> bytes:
        raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
        query = scope.get("query_string", b"")
        return raw_path + b"?" + query if query else raw_path

    def _count_elb(self, lb_arn: str, status: int) -> None:
        if 300 <= status < 600:
            self._metrics.count(lb_arn, f"HTTPCode_ELB_{status // 100}XX_Count")
        if status in (500, 502, 503, 504):
            self._metrics.count(lb_arn, f"HTTPCode_ELB_{status}_Count")

    async def _elb_error(self, send: Send, lb_arn: str, status: int) -> None:
        self._count_elb(lb_arn, status)
        await _respond(send, status, [(b"content-type", b"text/html")], elb_page(status))
