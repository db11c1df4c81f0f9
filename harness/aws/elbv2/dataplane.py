"""`AlbDataPlane`: the load balancers Terraform declared, actually serving traffic on local ports.

Reads every application load balancer back from the emulated AWS, serves each listener locally
(HTTPS with a certificate from the harness CA), health-checks the registered targets and forwards
to the healthy ones. Everything runs in one background thread with its own asyncio loop; the methods
here are synchronous and thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from harness.aws.elbv2.checker import HealthMonitor
from harness.aws.elbv2.client_timeouts import REQUEST_HEADER_TIMEOUT_SECONDS, ClientTimeouts
from harness.aws.elbv2.handler import RequestRouter
from harness.aws.elbv2.health import State, TargetHealth
from harness.aws.elbv2.listener import ListenerServer
from harness.aws.elbv2.loader import ModelLoader
from harness.aws.elbv2.metrics import MetricsRecorder
from harness.aws.elbv2.model import AlbModel, Listener
from harness.aws.elbv2.proxy import Forwarder
from harness.core.ca import IssuedCertificate
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.probes import eventually

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_PORTS = {"http": 80, "https": 443}


class AlbDataPlane:
    """The ALB data plane of the local cloud.

    context: the emulated AWS to read load balancers, target groups and targets from, the clock that
        scales health check intervals/timeouts and deregistration delays (time scale 100 runs a 30 s
        interval every 0.3 s) without touching the Terraform, and the CA the listener certificates come
        from (reused across runs).
    idle_timeout_scale: divides the load balancer's idle timeout (the target timeout behind 504s, and the
        client idle timeout) and the other client connection timers (request header timeout, client
        keep-alive duration), so a test can watch a slow client being closed in seconds.
    poll_interval: seconds between re-reads of the emulator, so targets registered by others show up.
    """

    name = "alb"

    def __init__(
        self,
        context: RuntimeContext,
        *,
        idle_timeout_scale: float = 1.0,
        poll_interval: float = 1.0,
        bind_host: str = "127.0.0.1",
    ) -> None:
        if idle_timeout_scale <= 0:
            raise HarnessError(
                f"idle_timeout_scale must be positive (got {idle_timeout_scale})",
                "pass idle_timeout_scale > 0, e.g. 10 to answer 504 after a tenth of the idle timeout",
            )
        self.context = context
        self.clock = context.clock
        self.idle_timeout_scale = idle_timeout_scale
        self.poll_interval = poll_interval
        self.bind_host = bind_host
        self._ca = context.ca
        self._model = AlbModel()
        self._metrics = MetricsRecorder()
        self._servers: dict[str, ListenerServer] = {}
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._health: HealthMonitor | None = None
        self._forwarder: Forwarder | None = None
        self._router: RequestRouter | None = None
        self._loader: ModelLoader | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._refresh_lock: asyncio.Lock | None = None
        self._last_poll_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> AlbDataPlane:
        """Read the load balancers, start every listener and health checking; returns once listening."""
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="alb-data-plane", daemon=True)
        self._thread.start()
        try:
            self._call(self._astart(), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop listeners, health checks and polling, then the background thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._astop(), 20.0)
        except Exception as exc:
            log.warning("ALB data plane did not stop cleanly: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every listener of every load balancer accepts connections."""
        eventually(
            self._ready, timeout=timeout, interval=0.02, what="ALB listeners",
            timeout_error=lambda _: ReadinessTimeoutError(
                f"ALB data plane not ready after {timeout}s (listening: {sorted(self.port_map.items())})",
                f"check that the emulated AWS at {self.context.endpoint_url} answers and see the log for "
                "listener errors",
            ),
        )

    def wait_healthy(self, target_group_arn: str | None = None, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until a target group (every group in use, if None) has `count` healthy targets."""

        def healthy_counts() -> dict[str, int]:
            health = self.health()
            arns = [target_group_arn] if target_group_arn else sorted(self._model.target_groups_in_use())
            return {arn: sum(t.state == State.HEALTHY for t in health.get(arn, [])) for arn in arns}

        eventually(
            healthy_counts, lambda healthy: all(n >= count for n in healthy.values()), timeout=timeout,
            interval=0.02, what="healthy targets",
            timeout_error=lambda _: ReadinessTimeoutError(
                f"target groups not healthy after {timeout}s: {healthy_counts()}",
                "check the targets' health check path and port (`harness status` shows the reasons)",
            ),
        )

    def refresh(self, timeout: float = 30.0) -> None:
        """Re-read load balancers, listeners, rules, target groups and targets from the emulator now."""
        self._call(self._arefresh(), timeout)

    def __enter__(self) -> AlbDataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ endpoints
    @property
    def ca_bundle_path(self) -> Path:
        """The harness CA certificate: give it to clients as the trust store (httpx `verify=`)."""
        return self._ca.cert_path

    @property
    def port_map(self) -> dict[int, int]:
        """Terraform listener port -> local port (for all load balancers; see `listeners()` if ports clash)."""
        return {item["port"]: item["local_port"] for item in self.listeners()}

    @property
    def url(self) -> str:
        """Local URL of the first HTTPS listener (else the first listener)."""
        items = sorted(self.listeners(), key=lambda i: (i["protocol"] != "HTTPS", i["port"]))
        if not items:
            raise HarnessError("the ALB data plane serves no listener", "declare an aws_lb_listener and refresh()")
        return items[0]["local_url"]

    endpoint = url

    def listeners(self) -> list[dict[str, Any]]:
        model = self._model
        out = []
        for arn, server in sorted(self._servers.items()):
            listener = model.listeners.get(arn)
            lb = model.load_balancers.get(listener.load_balancer_arn) if listener else None
            if listener is None or lb is None or not server.started:
                continue
            out.append(
                {
                    "load_balancer": lb.name,
                    "load_balancer_arn": lb.arn,
                    "arn": arn,
                    "port": listener.port,
                    "protocol": listener.protocol,
                    "local_port": server.port,
                    "local_url": server.url,
                    "public_url": f"{listener.scheme}://{lb.dns_name}:{listener.port}",
                }
            )
        return out

    def local_port(self, port: int, load_balancer: str | None = None) -> int:
        """Local port of the listener Terraform declared on `port` (`load_balancer`: name, ARN or DNS name)."""
        return self._find_listener(port, None, load_balancer)["local_port"]

    def local_url(self, public_url: str) -> str:
        """Translate a public URL (e.g. a redirect's Location, https://<alb dns>:443/x?y) to the local one.

        Send the original host as the Host header if host-header rules should see it.
        """
        parts = urlsplit(public_url)
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORTS.get(scheme, 80)
        hostname = parts.hostname or ""
        listener = self._find_listener(port, scheme, hostname, strict_host=False)
        return urlunsplit(
            (scheme, f"{self.bind_host}:{listener['local_port']}", parts.path or "/", parts.query, parts.fragment)
        )

    def describe(self) -> dict[str, Any]:
        """Everything `harness status` shows: CA bundle, listeners (public and local), target health."""
        health = self.health()
        model = self._model
        return {
            "ca_bundle": str(self.ca_bundle_path),
            "time_scale": self.clock.time_scale,
            "listeners": self.listeners(),
            "target_groups": [
                {
                    "name": tg.name,
                    "arn": tg.arn,
                    "healthy": sum(t.state == State.HEALTHY for t in health.get(tg.arn, [])),
                    "targets": [t.to_json() for t in health.get(tg.arn, [])],
                }
                for tg in model.target_groups.values()
            ],
            "last_poll_error": self._last_poll_error,
        }

    # ------------------------------------------------------------------ health and metrics
    def health(self) -> dict[str, list[TargetHealth]]:
        """Target group ARN -> health of each registered (or draining) target."""
        return self._health.health() if self._health else {}

    def target_state(self, target_group_arn: str, target_id: str, port: int) -> str | None:
        """The state of one target ("healthy", "unhealthy", ...), None when it is not registered."""
        for target in self.health().get(target_group_arn, []):
            if (target.id, target.port) == (target_id, port):
                return target.state.value
        return None

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Plain JSON-able health, for writing back into the emulator's describe-target-health:
        tg arn -> [{id, port, state, reason, description}]."""
        return {arn: [t.to_json() for t in targets] for arn, targets in self.health().items()}

    def metrics_snapshot(self, reset: bool = False) -> dict[str, Any]:
        """CloudWatch-style counters per load balancer and per (target group, load balancer), cumulative
        since `period_start` (epoch seconds); `reset=True` starts a new period (for delta publishers)."""
        model = self._model
        known = sorted(
            {
                (w.target_group_arn, listener.load_balancer_arn)
                for listener in model.listeners.values()
                for rule in listener.rules
                for w in rule.action.target_groups
            }
        )
        host_counts = {
            arn: (sum(t.state == State.HEALTHY for t in ts), sum(t.state == State.UNHEALTHY for t in ts))
            for arn, ts in self.health().items()
        }
        return self._metrics.snapshot(reset=reset, known=known, host_counts=host_counts)

    @property
    def model(self) -> AlbModel:
        """The configuration last read from the emulator."""
        return self._model

    # ------------------------------------------------------------------ internals
    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise HarnessError("the ALB data plane is not running", "call start() first")
        if threading.current_thread() is self._thread:
            coro.close()
            raise HarnessError(
                "AlbDataPlane methods were called from its own event loop", "call them from another thread"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def _ready(self) -> bool:
        if self._thread is None or not self._thread.is_alive():
            return False
        return all(arn in self._servers and self._servers[arn].started for arn in self._model.listeners)

    def _find_listener(
        self, port: int, scheme: str | None, load_balancer: str | None, strict_host: bool = True
    ) -> dict[str, Any]:
        items = [
            i for i in self.listeners() if i["port"] == port and (scheme is None or i["protocol"].lower() == scheme)
        ]
        if load_balancer:
            named = [
                i
                for i in items
                if load_balancer in (i["load_balancer"], i["load_balancer_arn"])
                or urlsplit(i["public_url"]).hostname == load_balancer.lower()
            ]
            if named or strict_host:
                items = named
        if len(items) != 1:
            what = f"{(scheme or '').upper() or 'a'} listener on port {port}"
            raise HarnessError(
                f"{'no' if not items else 'more than one'} {what} found"
                + (f" for load balancer {load_balancer!r}" if load_balancer else ""),
                f"listeners served: {[(i['load_balancer'], i['protocol'], i['port']) for i in self.listeners()]}; "
                "name the load balancer (name, ARN or DNS name) or call refresh() after terraform apply",
            )
        return items[0]

    def _load(self) -> AlbModel:
        if self._loader is None:
            self._loader = ModelLoader(self.context.clients.client("elbv2"), self.context.clients.client("acm"))
        try:
            return self._loader.load()
        except Exception as exc:
            raise HarnessError(
                f"cannot read load balancers from the emulated AWS at {self.context.endpoint_url} "
                f"({type(exc).__name__}: {exc})",
                "start the AWS emulator first and check the endpoint URL and region",
            ) from exc

    async def _astart(self) -> None:
        self._refresh_lock = asyncio.Lock()
        await asyncio.to_thread(self._ca.ensure)
        self._health = HealthMonitor(self.clock)
        self._forwarder = Forwarder()
        self._router = RequestRouter(
            lambda: self._model, self._health, self._forwarder, self._metrics, self.idle_timeout_scale
        )
        await self._arefresh()
        self._poll_task = asyncio.get_running_loop().create_task(self._poll(), name="alb-poll")

    async def _astop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        await asyncio.gather(*(server.stop() for server in self._servers.values()), return_exceptions=True)
        self._servers.clear()
        self._signatures.clear()
        if self._health is not None:
            await self._health.close()
        if self._forwarder is not None:
            await self._forwarder.aclose()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self._arefresh()
                self._last_poll_error = None
            except Exception as exc:
                message = str(exc)
                if message != self._last_poll_error:
                    log.warning("ALB data plane: refresh failed, serving the last configuration: %s", message)
                self._last_poll_error = message

    async def _arefresh(self) -> None:
        assert self._refresh_lock is not None
        async with self._refresh_lock:
            model = await asyncio.to_thread(self._load)
            await self._apply(model)

    async def _apply(self, model: AlbModel) -> None:
        assert self._health is not None and self._router is not None
        self._model = model
        self._health.sync(model)
        for arn in [a for a in self._servers if a not in model.listeners]:
            await self._servers.pop(arn).stop()
            self._signatures.pop(arn, None)
        for arn, listener in model.listeners.items():
            lb = model.load_balancers[listener.load_balancer_arn]
            signature = (listener.protocol, listener.certificate_domains, lb.dns_name)
            if self._signatures.get(arn) == signature:
                continue
            port = 0
            if arn in self._servers:  # protocol or certificate changed: restart on the same local port
                old = self._servers.pop(arn)
                port = old.port
                await old.stop()
            certificate = await asyncio.to_thread(self._certificate, listener, lb.dns_name)
            server = ListenerServer(
                self._router.app(arn),
                self.bind_host,
                port,
                certificate,
                name=f"ALB {lb.name} listener {listener.protocol}:{listener.port}",
                client_timeouts=functools.partial(self._client_timeouts, listener.load_balancer_arn),
            )
            await server.start()
            self._servers[arn] = server
            self._signatures[arn] = signature
            log.info("%s serving on %s", server.name, server.url)

    def _client_timeouts(self, lb_arn: str) -> ClientTimeouts:
        """The load balancer's current attributes (read per new connection), scaled like its idle timeout."""
        lb = self._model.load_balancers.get(lb_arn)
        if lb is None:
            return ClientTimeouts()
        scale = self.idle_timeout_scale
        return ClientTimeouts(
            idle=lb.idle_timeout_seconds / scale,
            request_header=REQUEST_HEADER_TIMEOUT_SECONDS / scale,
            keep_alive=lb.client_keep_alive_seconds / scale,
        )

    def _certificate(self, listener: Listener, dns_name: str) -> IssuedCertificate | None:
        if listener.protocol != "HTTPS":
            return None
        names = [dns_name, *listener.certificate_domains, "localhost"]
        ips = ["127.0.0.1", "::1"]
        with contextlib.suppress(ValueError):
            if not ipaddress.ip_address(self.bind_host).is_unspecified:
                ips.append(self.bind_host)
        return self._ca.issue_server_certificate(listener.arn.rsplit("/", 3)[-3] + "-" + str(listener.port), names, ips)
