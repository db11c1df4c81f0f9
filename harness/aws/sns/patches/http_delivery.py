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
* the wiring of the delivery engine, which lives beside this patch with one job per module:
  ``harness.aws.sns.policy`` (the effective delivery policy: retries and Content-Type, like AWS),
  ``harness.aws.sns.delivery`` (POST, classify like AWS: 2xx-4xx delivered, 5xx/other/connection errors/15 s
  timeouts retried, on the local cloud's clock from ``$HARNESS_TIME_SCALE``; endpoints resolved through the
  local cloud's DNS snapshot and verified against the harness CA), ``harness.aws.sns.messages`` (the signed
  JSON bodies and ``x-amz-sns-*`` headers), ``harness.aws.sns.signing`` (the key and the signatures).

The URLs point at the address the client used to reach moto (its Host header), or at ``$HARNESS_SNS_PUBLIC_URL``
(e.g. ``http://host.docker.internal:4566``) when subscribers reach moto by another name.

Other protocols (sqs, lambda, email, ...) keep moto's behaviour.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from harness.aws.fidelity import FidelityPatch
from harness.aws.sns import messages
from harness.aws.sns import signing as sns_signing
from harness.aws.sns.delivery import Deliverer, Delivery
from harness.aws.sns.policy import effective_policy
from harness.core.clock import Clock

log = logging.getLogger("harness.aws.sns.patches.http_delivery")

NAME = "sns-http-delivery"
ENV_SIGNING_DIR = "HARNESS_SNS_SIGNING_DIR"
ENV_PUBLIC_URL = "HARNESS_SNS_PUBLIC_URL"

HARNESS_PREFIX = "/_harness/sns"
CERT_URL_PATH = f"{HARNESS_PREFIX}/{sns_signing.CERT_FILE_NAME}"

HTTP_PROTOCOLS = frozenset({"http", "https"})
SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"

# --------------------------------------------------------------------------------------------------
# Subscriptions, tokens and the messages' way to the delivery engine


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


def _sign(message: dict[str, Any], topic: Any, base: str) -> dict[str, Any]:
    return messages.sign(message, _rt().identity, messages.signature_version(topic), signing_cert_url(base))


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
    message_id = str(uuid.uuid4())
    message = messages.confirmation(message_type, message_id, topic.arn, subscription.arn, token, base)
    _sign(message, topic, base)
    retry, content_type = effective_policy(topic.delivery_policy, None)
    headers = messages.headers(message_type, message_id, topic.arn, content_type)
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
            body=messages.json_body(message),
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
    headers = messages.headers("Notification", message_id, topic.arn, content_type)
    headers["x-amz-sns-subscription-arn"] = subscription.arn
    raw = str(subscription.attributes.get("RawMessageDelivery", False)).lower() == "true"
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
        body = message.encode("utf-8")
    else:
        notification = _sign(messages.notification(message_id, topic.arn, subject, message), topic, base)
        unsubscribe = f"{base}/?Action=Unsubscribe&SubscriptionArn={messages.arn_param(subscription.arn)}"
        notification["UnsubscribeURL"] = unsubscribe
        if message_attributes:
            notification["MessageAttributes"] = dict(message_attributes)
        body = messages.json_body(notification)
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
        "time_scale": runtime.deliverer.clock.time_scale,
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
        deliverer=Deliverer(clock=Clock.from_env()),
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
        "sns-http-delivery: signing certificate %s, time scale %s",
        _runtime.identity.cert_path or "(in memory)",
        _runtime.deliverer.clock.time_scale,
    )


# --------------------------------------------------------------------------------------------------
# Emulator state (harness.emulator.state): the tokens are saved with the backends; on restore, the URLs
# that name the saving server move to this one, and pending subscriptions get their confirmation again
# (the delivery engine's queue, with the retries of the first one, is not saved).


def save_state() -> dict[str, _TokenRef]:
    runtime = _rt()
    with runtime.lock:
        return dict(runtime.tokens)


def _moved(url: str | None, saved_endpoint: str | None, endpoint: str) -> str | None:
    """`url` on this server when it named the saving server's port, else unchanged."""
    from urllib.parse import urlsplit

    if not url or not saved_endpoint:
        return url
    old, new, parts = urlsplit(saved_endpoint), urlsplit(endpoint), urlsplit(url)
    if parts.port is None or parts.port != old.port or parts.port == new.port:
        return url
    return parts._replace(netloc=f"{parts.hostname}:{new.port}").geturl()


def restore_state(saved: dict[str, _TokenRef] | None, saved_endpoint: str | None, endpoint: str) -> None:
    from moto.sns.models import sns_backends

    runtime = _rt()
    with runtime.lock:
        runtime.tokens.update(saved or {})
    for _, _, backend in sns_backends.iter_backends():
        for subscription in list(backend.subscriptions.values()):
            if getattr(subscription, "_harness_base_url", None):
                subscription._harness_base_url = _moved(subscription._harness_base_url, saved_endpoint, endpoint)
            if subscription.protocol in HTTP_PROTOCOLS and _is_pending(subscription):
                _send_confirmation(backend, subscription, "SubscriptionConfirmation", restore=False)


PATCH = FidelityPatch(
    name=NAME,
    summary=(
        "AWS leaves http/https subscriptions PendingConfirmation until the endpoint confirms a signed "
        "SubscriptionConfirmation, then delivers signed notifications asynchronously with x-amz-sns-* headers "
        "and retries; stock moto confirms at once and POSTs inside Publish, unsigned, so a dead endpoint "
        "fails the Publish."
    ),
    apply=apply,
    save_state=save_state,
    restore_state=restore_state,
)
