"""SNS delivery to http/https subscribers the way AWS does it.

AWS: Subscribe with protocol http/https leaves the subscription ``PendingConfirmation`` and POSTs a signed
``SubscriptionConfirmation`` (Token, SubscribeURL) to the endpoint; only a GET of the SubscribeURL or
``ConfirmSubscription`` with the token confirms it, and only confirmed subscriptions get notifications.
Publish returns at once; each notification is POSTed later, signed (SignatureVersion 1 = SHA1withRSA,
2 = SHA256withRSA), with the ``x-amz-sns-*`` headers, and retried per the HTTP delivery policy; a dead
endpoint fails nobody but itself.

Stock moto 5.2.5 confirms at once, POSTs inside Publish (a refused connection fails the Publish and the
subscribers after it), sends no ``x-amz-sns-*`` headers, signs with a throw-away key whose SigningCertURL
is on amazonaws.com, and its ``ConfirmSubscription`` accepts any token.

What this patch adds to the moto server process:

* a signing key pair (RSA 2048, self-signed certificate), loaded from or saved to ``$HARNESS_SNS_SIGNING_DIR``
  when set, else made fresh at start; the certificate is served at ``/_harness/sns/SimpleNotificationService.pem``
  and that URL is every message's ``SigningCertURL``;
* ``GET /_harness/sns``: JSON with the certificate URL and path, a regex for ``SNS_TRUSTED_CERT_URL_PATTERN``
  and the recent delivery attempts (for debugging and scenario assertions);
* unsigned ``GET /?Action=ConfirmSubscription&TopicArn=..&Token=..`` and ``GET /?Action=Unsubscribe&SubscriptionArn=..``
  (the SubscribeURL and UnsubscribeURL) answered like AWS, with its XML;
* a delivery worker: a scheduler thread and a small thread pool that POST, classify (2xx-4xx delivered,
  like AWS: a 4xx is not retried; 5xx, other codes, connection errors and 15 s timeouts are failures)
  and retry per the effective delivery policy (subscription ``DeliveryPolicy`` over the topic's ``http``
  policy, else AWS's default of 3 retries 20 s apart), every delay multiplied by ``$HARNESS_SNS_RETRY_SCALE``.

The URLs point at the address the client used to reach moto (its Host header), or at ``$HARNESS_SNS_PUBLIC_URL``
(e.g. ``http://host.docker.internal:4566``) when subscribers reach moto by another name.

Endpoints resolve the way the local cloud's DNS says (``harness.aws.route53.resolver``): when ``$HARNESS_DNS_TRUTH``
names a JSON map ``{hostname: {port: "127.0.0.1:<local port>"}}`` (written by the runtime daemon from the
emulator's Route53 alias records and the ALB data plane's listeners; re-read when it changes) and an
endpoint's host:port (the scheme's default port if none) is in it, the POST goes to that local address with
the original ``Host`` header, and for https with the original hostname as TLS server name, verified against
the harness CA in ``$HARNESS_CA_BUNDLE`` (the ALB's certificates carry the Terraform hostnames): a real
handshake that fails like AWS's would when the certificate does not cover the name. Other endpoints use
plain DNS and the system trust store, plus ``$SSL_CERT_FILE`` and the harness CA in ``$HARNESS_CA_BUNDLE``:
in the local cloud that CA plays the public CAs' part, so a local https subscriber (a test's pager
endpoint on 127.0.0.1) with a certificate from it is trusted as a publicly certified one is on AWS.
Other protocols (sqs, lambda, email, ...) keep moto's behaviour.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import heapq
import itertools
import json
import logging
import os
import queue
import re
import secrets
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

import httpx

from harness.aws.fidelity import FidelityPatch
from harness.aws.route53.resolver import DnsTruthReader, Route, resolve_url
from harness.aws.sns import signing as sns_signing
from harness.core.rundir import CA_BUNDLE_ENV, SNS_SIGNING_DIR_ENV

log = logging.getLogger("harness.aws.sns.patches.http_delivery")

NAME = "sns-http-delivery"
ENV_SIGNING_DIR = SNS_SIGNING_DIR_ENV
ENV_RETRY_SCALE = "HARNESS_SNS_RETRY_SCALE"
ENV_PUBLIC_URL = "HARNESS_SNS_PUBLIC_URL"

HARNESS_PREFIX = "/_harness/sns"
CERT_URL_PATH = f"{HARNESS_PREFIX}/{sns_signing.CERT_FILE_NAME}"

HTTP_PROTOCOLS = frozenset({"http", "https"})
USER_AGENT = "Amazon Simple Notification Service Agent"
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
ATTEMPT_TIMEOUT_SECONDS = 15.0  # AWS gives an endpoint about 15 s to answer
SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
RECENT_DELIVERIES = 500
DELIVERY_WORKERS = 16
_USERINFO = re.compile(r"//[^/@]+@")


# --------------------------------------------------------------------------------------------------
# Delivery policy


@dataclass(frozen=True)
class RetryPolicy:
    """AWS's ``healthyRetryPolicy``: four phases of retries after the first attempt."""

    min_delay: float = 20.0
    max_delay: float = 20.0
    num_retries: int = 3
    num_no_delay_retries: int = 0
    num_min_delay_retries: int = 0
    num_max_delay_retries: int = 0
    backoff_function: str = "linear"

    @classmethod
    def from_aws(cls, policy: Mapping[str, Any] | None) -> RetryPolicy:
        if not policy:
            return cls()
        default = cls()

        def number(key: str, fallback: float) -> float:
            value = policy.get(key)
            return float(value) if isinstance(value, int | float) and value >= 0 else fallback

        min_delay = number("minDelayTarget", default.min_delay)
        return cls(
            min_delay=min_delay,
            max_delay=max(min_delay, number("maxDelayTarget", max(default.max_delay, min_delay))),
            num_retries=int(number("numRetries", default.num_retries)),
            num_no_delay_retries=int(number("numNoDelayRetries", 0)),
            num_min_delay_retries=int(number("numMinDelayRetries", 0)),
            num_max_delay_retries=int(number("numMaxDelayRetries", 0)),
            backoff_function=str(policy.get("backoffFunction") or default.backoff_function).lower(),
        )

    def delays(self) -> list[float]:
        """The wait before each retry, in seconds: immediate, pre-backoff, backoff, post-backoff phases."""
        fixed = self.num_no_delay_retries + self.num_min_delay_retries + self.num_max_delay_retries
        backoff = max(0, self.num_retries - fixed)
        delays = [0.0] * self.num_no_delay_retries + [self.min_delay] * self.num_min_delay_retries
        for i in range(backoff):
            fraction = (i + 1) / backoff
            if self.backoff_function in ("exponential", "geometric") and self.min_delay > 0:
                delays.append(self.min_delay * (self.max_delay / self.min_delay) ** fraction)
            elif self.backoff_function == "arithmetic":
                delays.append(self.min_delay + (self.max_delay - self.min_delay) * fraction**2)
            else:  # linear
                delays.append(self.min_delay + (self.max_delay - self.min_delay) * fraction)
        delays += [self.max_delay] * self.num_max_delay_retries
        return delays[: self.num_retries]


def _loads(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    if not document:
        return {}
    try:
        parsed = json.loads(document)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def effective_policy(topic_policy: Any, subscription_policy: Any) -> tuple[RetryPolicy, str]:
    """The retry policy and Content-Type for one http/https subscription, the way AWS combines them."""
    topic_http = _loads(topic_policy).get("http") or {}
    retry = topic_http.get("defaultHealthyRetryPolicy")
    content_type = (topic_http.get("defaultRequestPolicy") or {}).get("headerContentType")
    if not topic_http.get("disableSubscriptionOverrides"):
        sub = _loads(subscription_policy)
        retry = sub.get("healthyRetryPolicy") or retry
        content_type = (sub.get("requestPolicy") or {}).get("headerContentType") or content_type
    return RetryPolicy.from_aws(retry), str(content_type or DEFAULT_CONTENT_TYPE)


# --------------------------------------------------------------------------------------------------
# Delivery worker


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
    via: str | None = None  # the local address the last attempt went to, when the DNS truth routed it


class Deliverer:
    """POSTs deliveries on daemon worker threads; a scheduler thread holds the ones waiting for a retry.

    Daemon threads: stopping the moto server drops what is still queued, as a crashed emulator would,
    instead of holding the process up behind a 15 s attempt.
    """

    def __init__(self, retry_scale: float = 1.0, workers: int = DELIVERY_WORKERS) -> None:
        self.retry_scale = retry_scale
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
            delay = delivery.delays[retry_index] * self.retry_scale
            self._record(delivery, "retrying", f"{failure}; retry in {delay:.2f}s")
            self.submit(delivery, delay)
        else:
            self._record(delivery, "failed", f"{failure}; delivery policy exhausted")
            log.warning(
                "sns-http-delivery: gave up on %s %s to %s after %d attempts (%s)",
                delivery.message_type,
                delivery.message_id,
                _USERINFO.sub("//***@", delivery.endpoint),
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
            "time": _timestamp(),
            "type": delivery.message_type,
            "message_id": delivery.message_id,
            "subscription_arn": delivery.subscription_arn,
            "endpoint": _USERINFO.sub("//***@", delivery.endpoint),  # no basic-auth passwords in the log
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


# --------------------------------------------------------------------------------------------------
# Messages


def _timestamp() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _arn_param(value: str) -> str:
    return quote(value, safe=":")


def _json_body(message: Mapping[str, Any]) -> bytes:
    # AWS's bodies are pretty-printed JSON with " : " separators and unescaped non-ASCII text.
    return json.dumps(message, indent=2, separators=(",", " : "), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class _TokenRef:
    account: str
    region: str
    topic_arn: str
    subscription_arn: str
    restore: Any = None  # the Subscription an UnsubscribeConfirmation token brings back


@dataclass
class _Runtime:
    identity: sns_signing.SigningIdentity
    deliverer: Deliverer
    tokens: dict[str, _TokenRef] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_runtime: _Runtime | None = None
_request_base_url: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "harness_sns_request_base_url", default=None
)
# Set by Subscribe (model) for Subscribe (response): was the subscription pending when it was made?
# Decided there, not after, so an endpoint that confirms within the request does not change the answer.
_pending_at_subscribe: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "harness_sns_pending_at_subscribe", default=False
)


def _rt() -> _Runtime:
    if _runtime is None:
        raise RuntimeError(f"fidelity patch {NAME} is not applied in this process")
    return _runtime


def base_url() -> str:
    """Where subscribers reach this moto server: the override, the current request's Host, or MOTO_PORT."""
    override = os.environ.get(ENV_PUBLIC_URL)
    if override:
        return override.rstrip("/")
    current = _request_base_url.get()
    if current:
        return current
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"


def signing_cert_url(base: str | None = None) -> str:
    return f"{base or base_url()}{CERT_URL_PATH}"


def _signature_version(topic: Any) -> str:
    version = str(getattr(topic, "signature_version", "1") or "1")
    return version if version in sns_signing.SIGNATURE_VERSIONS else "1"


def _sign(message: dict[str, Any], version: str, base: str) -> dict[str, Any]:
    message["SignatureVersion"] = version
    message["Signature"] = _rt().identity.sign(message, version)
    message["SigningCertURL"] = signing_cert_url(base)
    return message


def _headers(message_type: str, message_id: str, topic_arn: str, content_type: str) -> dict[str, str]:
    return {
        "x-amz-sns-message-type": message_type,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
    }


def _issue_token(ref: _TokenRef) -> str:
    token = secrets.token_hex(128)
    runtime = _rt()
    with runtime.lock:
        runtime.tokens[token] = ref
    return token


def _live_subscription(account: str, region: str, arn: str) -> Any:
    from moto.sns.models import sns_backends

    try:
        return sns_backends[account][region].subscriptions.get(arn)
    except KeyError:
        return None


def _is_pending(subscription: Any) -> bool:
    return bool(getattr(subscription, "_harness_pending", False))


def _sub_base(subscription: Any) -> str:
    return os.environ.get(ENV_PUBLIC_URL, "").rstrip("/") or str(
        getattr(subscription, "_harness_base_url", None) or base_url()
    )


def _always() -> bool:
    return True


def _send_confirmation(backend: Any, subscription: Any, message_type: str, restore: bool) -> None:
    """SubscriptionConfirmation (new subscription) or UnsubscribeConfirmation (after Unsubscribe)."""
    topic = subscription.topic
    base = _sub_base(subscription)
    token = _issue_token(
        _TokenRef(
            account=backend.account_id,
            region=backend.region_name,
            topic_arn=topic.arn,
            subscription_arn=subscription.arn,
            restore=subscription if restore else None,
        )
    )
    if message_type == "SubscriptionConfirmation":
        text = (
            f"You have chosen to subscribe to the topic {topic.arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
    else:
        text = (
            f"You have chosen to deactivate subscription {subscription.arn}.\n"
            "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
        )
    message_id = str(uuid.uuid4())
    message: dict[str, Any] = {
        "Type": message_type,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic.arn,
        "Message": text,
        "SubscribeURL": f"{base}/?Action=ConfirmSubscription&TopicArn={_arn_param(topic.arn)}&Token={token}",
        "Timestamp": _timestamp(),
    }
    _sign(message, _signature_version(topic), base)
    retry, content_type = effective_policy(topic.delivery_policy, None)
    headers = _headers(message_type, message_id, topic.arn, content_type)
    if message_type == "UnsubscribeConfirmation":
        headers["x-amz-sns-subscription-arn"] = subscription.arn
        wanted: Callable[[], bool] = _always
    else:
        account, region, arn = backend.account_id, backend.region_name, subscription.arn

        def wanted() -> bool:
            live = _live_subscription(account, region, arn)
            return live is subscription and _is_pending(live)

    _rt().deliverer.submit(
        Delivery(
            message_type=message_type,
            message_id=message_id,
            endpoint=subscription.endpoint,
            subscription_arn=subscription.arn,
            body=_json_body(message),
            headers=headers,
            delays=retry.delays(),
            still_wanted=wanted,
        )
    )


def _send_notification(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: Mapping[str, Any] | None,
) -> None:
    topic = subscription.topic
    base = _sub_base(subscription)
    retry, content_type = effective_policy(topic.delivery_policy, subscription.attributes.get("DeliveryPolicy"))
    headers = _headers("Notification", message_id, topic.arn, content_type)
    headers["x-amz-sns-subscription-arn"] = subscription.arn
    raw = str(subscription.attributes.get("RawMessageDelivery", False)).lower() == "true"
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
        body = message.encode("utf-8")
    else:
        notification: dict[str, Any] = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic.arn}
        if subject:
            notification["Subject"] = subject
        notification["Message"] = message
        notification["Timestamp"] = _timestamp()
        _sign(notification, _signature_version(topic), base)
        notification["UnsubscribeURL"] = f"{base}/?Action=Unsubscribe&SubscriptionArn={_arn_param(subscription.arn)}"
        if message_attributes:
            notification["MessageAttributes"] = dict(message_attributes)
        body = _json_body(notification)
    account = getattr(subscription, "_harness_account", None) or topic.sns_backend.account_id
    region = getattr(subscription, "_harness_region", None) or topic.sns_backend.region_name
    arn = subscription.arn

    def wanted() -> bool:
        live = _live_subscription(account, region, arn)
        return live is subscription and not _is_pending(live)

    _rt().deliverer.submit(
        Delivery(
            message_type="Notification",
            message_id=message_id,
            endpoint=subscription.endpoint,
            subscription_arn=subscription.arn,
            body=body,
            headers=headers,
            delays=retry.delays(),
            still_wanted=wanted,
        )
    )


# --------------------------------------------------------------------------------------------------
# Confirmation and unsubscribe (shared by the API actions and the unsigned GET URLs)


class _SnsError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def confirm(topic_arn: str | None, token: str | None, authenticated: bool = False) -> str:
    """Confirm the subscription `token` was issued for; return its ARN. Raises _SnsError like AWS."""
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    if not topic_arn or not token:
        raise _SnsError("InvalidParameter", "Invalid parameter: TopicArn and Token are required", 400)
    try:
        parsed = parse_arn(topic_arn)
        topic_exists = topic_arn in sns_backends[parsed.account][parsed.region].topics
    except (ValueError, KeyError, IndexError):
        topic_exists = False
    if not topic_exists:
        raise _SnsError("NotFound", "Topic does not exist", 404)
    runtime = _rt()
    with runtime.lock:
        ref = runtime.tokens.get(token)
    if ref is None or ref.topic_arn != topic_arn:
        raise _SnsError("InvalidParameter", "Invalid parameter: Token", 400)
    backend = sns_backends[ref.account][ref.region]
    subscription = backend.subscriptions.get(ref.subscription_arn)
    if subscription is None and ref.restore is not None:
        subscription = ref.restore  # the UnsubscribeConfirmation's SubscribeURL restores the subscription
        backend.subscriptions[subscription.arn] = subscription
        log.info("sns-http-delivery: restored %s", subscription.arn)
    if subscription is None:
        raise _SnsError("InvalidParameter", "Invalid parameter: Token", 400)
    if _is_pending(subscription):
        subscription._harness_pending = False
        subscription.confirmed = True
        subscription.attributes["PendingConfirmation"] = False
        subscription.attributes["ConfirmationWasAuthenticated"] = authenticated
        subscription._harness_authenticate_on_unsubscribe = authenticated
        log.info("sns-http-delivery: confirmed %s", subscription.arn)
    return str(subscription.arn)


def _unsubscribe_unsigned(subscription_arn: str | None) -> None:
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    if not subscription_arn:
        raise _SnsError("InvalidParameter", "Invalid parameter: SubscriptionArn", 400)
    try:
        parsed = parse_arn(subscription_arn)
        backend = sns_backends[parsed.account][parsed.region]
    except (ValueError, KeyError, IndexError):
        raise _SnsError("InvalidParameter", "Invalid parameter: SubscriptionArn", 400) from None
    subscription = backend.subscriptions.get(subscription_arn)
    if subscription is not None and getattr(subscription, "_harness_authenticate_on_unsubscribe", False):
        raise _SnsError("AuthorizationError", "Unsubscribe requires an AWS signature for this subscription", 403)
    backend.unsubscribe(subscription_arn)


# --------------------------------------------------------------------------------------------------
# HTTP surface inside moto's WSGI app


def _xml_response(start_response: Callable[..., Any], status: int, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def _error_xml(error: _SnsError) -> str:
    return (
        f'<ErrorResponse xmlns="{SNS_XMLNS}"><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def _handle_unsigned_action(action: str, query: Mapping[str, str], start_response: Callable[..., Any]) -> list[bytes]:
    request_id = uuid.uuid4()
    try:
        if action == "ConfirmSubscription":
            arn = confirm(query.get("TopicArn"), query.get("Token"), authenticated=False)
            body = (
                f'<ConfirmSubscriptionResponse xmlns="{SNS_XMLNS}"><ConfirmSubscriptionResult>'
                f"<SubscriptionArn>{escape(arn)}</SubscriptionArn></ConfirmSubscriptionResult>"
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</ConfirmSubscriptionResponse>"
            )
        else:
            _unsubscribe_unsigned(query.get("SubscriptionArn"))
            body = (
                f'<UnsubscribeResponse xmlns="{SNS_XMLNS}"><ResponseMetadata><RequestId>{request_id}'
                "</RequestId></ResponseMetadata></UnsubscribeResponse>"
            )
    except _SnsError as exc:
        return _xml_response(start_response, exc.status, _error_xml(exc))
    return _xml_response(start_response, 200, body)


def _info(base: str) -> dict[str, Any]:
    runtime = _rt()
    return {
        "patch": NAME,
        "signing_cert_url": signing_cert_url(base),
        "signing_cert_path": str(runtime.identity.cert_path) if runtime.identity.cert_path else None,
        "trusted_cert_url_pattern": "^" + re.escape(signing_cert_url(base)) + "$",
        "retry_scale": runtime.deliverer.retry_scale,
        "deliveries": list(runtime.deliverer.recent),
    }


def _environ_base_url(environ: Mapping[str, Any]) -> str | None:
    host = environ.get("HTTP_HOST")
    if not host or "amazonaws.com" in host:
        return None
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _wrap_dispatcher(original: Callable[..., Any]) -> Callable[..., Any]:
    def __call__(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        request_base = _environ_base_url(environ)
        if path == CERT_URL_PATH and method in ("GET", "HEAD"):
            pem = _rt().identity.cert_pem
            start_response("200 OK", [("Content-Type", "application/x-pem-file"), ("Content-Length", str(len(pem)))])
            return [b""] if method == "HEAD" else [pem]
        if path in (HARNESS_PREFIX, HARNESS_PREFIX + "/") and method == "GET":
            data = json.dumps(_info(os.environ.get(ENV_PUBLIC_URL, "").rstrip("/") or request_base or base_url()))
            body = data.encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if method == "GET" and path in ("", "/") and "HTTP_AUTHORIZATION" not in environ:
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            action = query.get("Action")
            if action in ("ConfirmSubscription", "Unsubscribe") and "X-Amz-Signature" not in query:
                return _handle_unsigned_action(action, query, start_response)
        reset = _request_base_url.set(request_base)
        try:
            return original(self, environ, start_response)
        finally:
            _request_base_url.reset(reset)

    __call__._harness_sns_http_delivery = True  # type: ignore[attr-defined]
    return __call__


# --------------------------------------------------------------------------------------------------
# The moto patches


def _retry_scale() -> float:
    raw = os.environ.get(ENV_RETRY_SCALE, "1")
    try:
        scale = float(raw)
    except ValueError:
        log.warning("sns-http-delivery: %s=%r is not a number; using 1", ENV_RETRY_SCALE, raw)
        return 1.0
    return max(0.0, scale)


def apply() -> None:
    global _runtime
    from moto.core.responses import ActionResult
    from moto.core.utils import ensure_boolean
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sns import models, responses
    from moto.sns.exceptions import SNSInvalidParameter, SNSNotFoundError

    if getattr(DomainDispatcherApplication.__call__, "_harness_sns_http_delivery", False):
        return  # already applied in this process

    signing_dir = os.environ.get(ENV_SIGNING_DIR)
    _runtime = _Runtime(
        identity=sns_signing.load_or_create(Path(signing_dir) if signing_dir else None),
        deliverer=Deliverer(retry_scale=_retry_scale()),
    )

    Subscription = models.Subscription
    Topic = models.Topic
    SNSBackend = models.SNSBackend
    SNSResponse = responses.SNSResponse

    # Subscribe: http/https subscriptions start PendingConfirmation and get a SubscriptionConfirmation.
    original_subscribe = SNSBackend.subscribe

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if protocol not in HTTP_PROTOCOLS:
            _pending_at_subscribe.set(False)
            return subscription
        _pending_at_subscribe.set(existing is None or _is_pending(existing))
        if existing is None:
            subscription._harness_pending = True
            subscription._harness_account = self.account_id
            subscription._harness_region = self.region_name
            subscription._harness_base_url = base_url()
            subscription.confirmed = False
            subscription.attributes["PendingConfirmation"] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
            _send_confirmation(self, subscription, "SubscriptionConfirmation", restore=False)
        elif _is_pending(subscription):
            _send_confirmation(self, subscription, "SubscriptionConfirmation", restore=False)
        return subscription

    SNSBackend.subscribe = subscribe

    # Subscribe's answer: "pending confirmation" unless confirmed or ReturnSubscriptionArn=true.
    original_subscribe_response = SNSResponse.subscribe

    def subscribe_response(self: Any) -> Any:
        _pending_at_subscribe.set(False)
        result = original_subscribe_response(self)
        wants_arn = ensure_boolean(self._get_param("ReturnSubscriptionArn") or False)
        if _pending_at_subscribe.get() and not wants_arn:
            return ActionResult({"SubscriptionArn": "pending confirmation"})
        return result

    SNSResponse.subscribe = subscribe_response

    # ListSubscriptions(ByTopic) show "PendingConfirmation" in place of a pending subscription's ARN.
    class Meta:
        serialization_aliases = {"SubscriptionArn": "harness_listed_arn"}

    Subscription.Meta = Meta
    Subscription.harness_listed_arn = property(lambda self: "PendingConfirmation" if _is_pending(self) else self.arn)

    # GetTopicAttributes counts pending and confirmed subscriptions like AWS.
    def _topic_subscriptions(topic: Any) -> list[Any]:
        return [s for s in topic.sns_backend.subscriptions.values() if s.topic is topic]

    Topic.subscriptions_pending = property(
        lambda self: sum(1 for s in _topic_subscriptions(self) if _is_pending(s)),
        lambda self, value: None,
    )
    Topic.subscriptions_confimed = property(  # sic: moto's attribute name
        lambda self: sum(1 for s in _topic_subscriptions(self) if not _is_pending(s)),
        lambda self, value: None,
    )

    # Publish: http/https notifications are queued for the delivery worker; pending ones get nothing.
    original_publish = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol not in HTTP_PROTOCOLS:
            return original_publish(
                self,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if _is_pending(self):
            return None
        _send_notification(self, message, message_id, subject, message_attributes)
        return None

    Subscription.publish = publish

    # ConfirmSubscription checks the token and confirms the subscription it was issued for.
    def confirm_subscription(self: Any) -> Any:
        authenticate = ensure_boolean(self._get_param("AuthenticateOnUnsubscribe") or False)
        try:
            arn = confirm(self._get_param("TopicArn"), self._get_param("Token"), authenticated=authenticate)
        except _SnsError as exc:
            if exc.code == "NotFound":
                raise SNSNotFoundError(exc.message) from None
            raise SNSInvalidParameter(exc.message) from None
        return ActionResult({"SubscriptionArn": arn})

    SNSResponse.confirm_subscription = confirm_subscription

    # Unsubscribe of a confirmed http/https subscription sends an UnsubscribeConfirmation.
    original_unsubscribe = SNSBackend.unsubscribe

    def unsubscribe(self: Any, subscription_arn: str) -> None:
        subscription = self.subscriptions.get(subscription_arn)
        original_unsubscribe(self, subscription_arn)
        if subscription is not None and subscription.protocol in HTTP_PROTOCOLS and not _is_pending(subscription):
            _send_confirmation(self, subscription, "UnsubscribeConfirmation", restore=True)

    SNSBackend.unsubscribe = unsubscribe

    DomainDispatcherApplication.__call__ = _wrap_dispatcher(DomainDispatcherApplication.__call__)
    log.info(
        "sns-http-delivery: signing certificate %s, retry scale %s",
        _runtime.identity.cert_path or "(in memory)",
        _runtime.deliverer.retry_scale,
    )


PATCH = FidelityPatch(
    name=NAME,
    summary=(
        "AWS leaves http/https subscriptions PendingConfirmation until the endpoint confirms a signed "
        "SubscriptionConfirmation, then delivers signed notifications asynchronously with x-amz-sns-* headers "
        "and retries; stock moto confirms at once and POSTs inside Publish, unsigned, so a dead endpoint "
        "fails the Publish."
    ),
    apply=apply,
)
