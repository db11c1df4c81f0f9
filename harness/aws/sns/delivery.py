"""SNS HTTP/S delivery engine: POST each message, classify the answer like AWS, retry per the policy.

A scheduler thread holds deliveries waiting for a retry (delays are AWS seconds on the local cloud's
`Clock`); worker threads POST them. Endpoints resolve the way the local cloud's DNS says
(``harness.aws.route53.resolver``): a mapped host:port goes to the local listener with the original
``Host`` and TLS server name, verified against the harness CA (``$HARNESS_CA_BUNDLE``); other endpoints
use plain DNS and the system trust store plus ``$SSL_CERT_FILE`` and the harness CA.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import os
import queue
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.aws.route53.resolver import DnsTruthReader, Route, resolve_url
from harness.core.clock import REAL_TIME, Clock
from harness.core.rundir import CA_BUNDLE_ENV

log = logging.getLogger("harness.aws.sns.delivery")

ATTEMPT_TIMEOUT_SECONDS = 15.0  # AWS gives an endpoint about 15 s to answer
RECENT_DELIVERIES = 500
DELIVERY_WORKERS = 16
_USERINFO = re.compile(r"//[^/@]+@")


def timestamp() -> str:
    """Now, the way SNS writes it (milliseconds, Z)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def masked(endpoint: str) -> str:
    """The endpoint without a basic-auth password, for logs."""
    return _USERINFO.sub("//***@", endpoint)


@dataclass
class Delivery:
    """One message for one endpoint, with the waits before its retries."""

    message_type: str
    message_id: str
    endpoint: str
    subscription_arn: str | None
    body: bytes
    headers: dict[str, str]
    delays: list[float]
    still_wanted: Callable[[], bool] = lambda: True
    attempts: int = 0
    via: str | None = None  # the local address the last attempt went to, when the DNS snapshot routed it


class Deliverer:
    """POSTs deliveries on daemon worker threads; a scheduler thread holds the ones waiting for a retry.

    Daemon threads: stopping the moto server drops what is still queued, as a crashed emulator would,
    instead of holding the process up behind a 15 s attempt.
    """

    def __init__(self, clock: Clock = REAL_TIME, workers: int = DELIVERY_WORKERS) -> None:
        self.clock = clock
        self.workers = workers
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_DELIVERIES)
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._ready: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._client: httpx.Client | None = None
        self._started = False
        self._dns = DnsTruthReader()
        self._routed_clients: dict[str, tuple[tuple[str, int, int] | None, httpx.Client]] = {}
        self._routed_lock = threading.Lock()

    def submit(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Attempt `delivery` after `delay` seconds (already scaled)."""
        with self._cond:
            self._start()
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._cond.notify()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._client = httpx.Client(
            timeout=ATTEMPT_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, verify=_tls_context()
        )
        threading.Thread(target=self._schedule, name="sns-http-scheduler", daemon=True).start()
        for number in range(self.workers):
            threading.Thread(target=self._work, name=f"sns-http-delivery-{number}", daemon=True).start()

    def _schedule(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = None if not self._heap else self._heap[0][0] - time.monotonic()
                    self._cond.wait(timeout)
                _, _, delivery = heapq.heappop(self._heap)
            self._ready.put(delivery)

    def _work(self) -> None:
        while True:
            self._attempt(self._ready.get())

    def _attempt(self, delivery: Delivery) -> None:
        if not delivery.still_wanted():
            self._record(delivery, "dropped", "the subscription is gone or no longer confirmed")
            return
        delivery.attempts += 1
        assert self._client is not None
        try:
            route = resolve_url(self._dns.read(), delivery.endpoint)
            delivery.via = route.address if route else None
            if route is None:
                response = self._client.post(delivery.endpoint, content=delivery.body, headers=delivery.headers)
            else:
                response = self._routed_client(route).post(
                    route.url,
                    content=delivery.body,
                    headers={**delivery.headers, "Host": route.host_header},
                    extensions={"sni_hostname": route.server_name},
                )
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a worker thread must survive whatever one endpoint does
            failure = f"{type(exc).__name__}: {exc}"
            log.exception("sns-http-delivery: unexpected error delivering %s", delivery.message_id)
        else:
            # AWS counts 200-499 as delivered (a 4xx is the endpoint's verdict, never retried).
            if 200 <= response.status_code < 500:
                outcome = "delivered" if response.status_code < 300 else "rejected"
                self._record(delivery, outcome, f"HTTP {response.status_code}")
                return
            failure = f"HTTP {response.status_code}"
        retry_index = delivery.attempts - 1
        if retry_index < len(delivery.delays):
            delay = self.clock.seconds(delivery.delays[retry_index])
            self._record(delivery, "retrying", f"{failure}; retry in {delay:.2f}s")
            self.submit(delivery, delay)
        else:
            self._record(delivery, "failed", f"{failure}; delivery policy exhausted")
            log.warning(
                "sns-http-delivery: gave up on %s %s to %s after %d attempts (%s)",
                delivery.message_type,
                delivery.message_id,
                masked(delivery.endpoint),
                delivery.attempts,
                failure,
            )

    def _routed_client(self, route: Route) -> httpx.Client:
        """A client verifying against the harness CA, one per server name (pooled connections keep
        the name they were verified for), renewed when the CA file changes."""
        ca_path = os.environ.get(CA_BUNDLE_ENV, "").strip()
        version: tuple[str, int, int] | None = None
        if ca_path:
            try:
                stat = Path(ca_path).stat()
                version = (ca_path, stat.st_mtime_ns, stat.st_size)
            except OSError:
                version = None
        with self._routed_lock:
            cached = self._routed_clients.get(route.server_name)
            if cached is not None and cached[0] == version:
                return cached[1]
            if version is None:
                log.warning(
                    "sns-http-delivery: %s is routed to %s but %s=%r names no CA file; verifying against "
                    "the system trust store (set it to the ALB data plane's ca.pem)",
                    route.server_name,
                    route.address,
                    CA_BUNDLE_ENV,
                    ca_path,
                )
                context = ssl.create_default_context()
            else:
                context = ssl.create_default_context(cafile=version[0])
            client = httpx.Client(
                timeout=ATTEMPT_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, verify=context
            )
            self._routed_clients[route.server_name] = (version, client)
            return client

    def _record(self, delivery: Delivery, outcome: str, detail: str) -> None:
        entry = {
            "time": timestamp(),
            "type": delivery.message_type,
            "message_id": delivery.message_id,
            "subscription_arn": delivery.subscription_arn,
            "endpoint": masked(delivery.endpoint),  # no basic-auth passwords in the log
            "via": delivery.via,
            "attempt": delivery.attempts,
            "outcome": outcome,
            "detail": detail,
        }
        self.recent.append(entry)
        log.info(
            "sns-http-delivery: %s %s -> %s attempt %d: %s (%s)",
            delivery.message_type,
            delivery.message_id,
            entry["endpoint"],
            delivery.attempts,
            outcome,
            detail,
        )


def _tls_context() -> ssl.SSLContext:
    """Verify https endpoints against the system trust store, plus ``$SSL_CERT_FILE`` and the harness CA
    (``$HARNESS_CA_BUNDLE``) when they name files."""
    context = ssl.create_default_context()
    for extra in (os.environ.get("SSL_CERT_FILE"), os.environ.get(CA_BUNDLE_ENV)):
        if extra and extra.strip() and Path(extra.strip()).is_file():
            context.load_verify_locations(cafile=extra.strip())
    return context
