"""Confirm the http/https subscriptions Terraform made while nothing listened.

On AWS, ``aws_sns_topic_subscription`` with protocol https is created during apply, before the service
behind the endpoint runs; SNS's SubscriptionConfirmation finds no listener, its retries run out and the
subscription stays ``PendingConfirmation``. Operators then re-run Subscribe (or re-apply) once the
endpoint is up: SNS sends a new SubscriptionConfirmation for a pending subscription, and the service
confirms it by fetching the SubscribeURL. The local cloud does the same once the API is healthy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.aws.route53.resolver import DEFAULT_PORTS, resolve_url
from harness.core.probes import EventuallyFailed, eventually

log = logging.getLogger(__name__)

PENDING = "PendingConfirmation"


@dataclass(frozen=True)
class Resubscription:
    """One pending http/https subscription and what was done about it."""

    topic_arn: str
    protocol: str
    endpoint: str  # basic-auth passwords masked
    outcome: str  # "resubscribed" (confirmation re-sent), "skipped" (host not served locally), "failed"
    detail: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _masked(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if "@" not in parts.netloc:
        return endpoint
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def resubscribe_pending(sns_client: Any, dns_map: Mapping[str, Mapping[int, str]]) -> list[Resubscription]:
    """Subscribe again every pending http/https subscription whose endpoint the local cloud serves.

    sns_client: a boto3 SNS client for the emulator. dns_map: `harness.aws.route53.resolver.read_dns_map(...)`
    (hostname -> {port: local address}). With the ``sns-http-delivery`` patch a Subscribe of a pending
    subscription re-sends the SubscriptionConfirmation (asynchronously, like AWS); the endpoint confirms
    it. Pending subscriptions to hosts outside the map are reported as "skipped" and left alone.
    """
    done: list[Resubscription] = []
    for page in sns_client.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            topic_arn = topic["TopicArn"]
            subscriptions = sns_client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            for sub_page in subscriptions:
                for sub in sub_page.get("Subscriptions", []):
                    protocol = str(sub.get("Protocol", "")).lower()
                    if protocol not in DEFAULT_PORTS or sub.get("SubscriptionArn") != PENDING:
                        continue
                    done.append(_resubscribe(sns_client, topic_arn, protocol, str(sub.get("Endpoint", "")), dns_map))
    for item in done:
        log.info("pending SNS subscription %s %s: %s (%s)", item.topic_arn, item.endpoint, item.outcome, item.detail)
    return done


def _resubscribe(
    sns_client: Any, topic_arn: str, protocol: str, endpoint: str, dns_map: Mapping[str, Mapping[int, str]]
) -> Resubscription:
    route = resolve_url(dns_map, endpoint)
    if route is None:
        return Resubscription(topic_arn, protocol, _masked(endpoint), "skipped", "host not served by the local cloud")
    try:
        sns_client.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
    except Exception as exc:  # one topic's failure must not stop the others
        return Resubscription(topic_arn, protocol, _masked(endpoint), "failed", f"{type(exc).__name__}: {exc}")
    return Resubscription(
        topic_arn, protocol, _masked(endpoint), "resubscribed", f"SubscriptionConfirmation re-sent via {route.address}"
    )


def wait_confirmed(
    sns_client: Any, resubscriptions: Sequence[Resubscription], timeout: float = 30.0, interval: float = 0.2
) -> list[Resubscription]:
    """Wait until every "resubscribed" subscription is confirmed; return those still pending at `timeout`.

    The endpoint confirms asynchronously (SNS POSTs, the service GETs the SubscribeURL), so a caller that
    reports readiness waits here first: a message published before the confirmation would be dropped.
    """
    resubscribed = [r for r in resubscriptions if r.outcome == "resubscribed"]

    def still_pending() -> list[Resubscription]:
        pending = set()
        for topic_arn in {r.topic_arn for r in resubscribed}:
            for page in sns_client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
                pending |= {
                    (topic_arn, _masked(str(sub.get("Endpoint", ""))))
                    for sub in page.get("Subscriptions", [])
                    if sub.get("SubscriptionArn") == PENDING
                }
        return [r for r in resubscribed if (r.topic_arn, r.endpoint) in pending]

    if not resubscribed:
        return []
    try:
        return eventually(still_pending, lambda waiting: not waiting, timeout=timeout, interval=interval,
                          what="SNS subscriptions confirmed")
    except EventuallyFailed:
        return still_pending()


class SubscriptionConfirmer:
    """Lifecycle component: once the subscribers are served, re-subscribe the http(s) subscriptions still
    pending (Terraform subscribed them while nothing listened, as on AWS they would stay pending) so the
    confirmation handshake reaches them, and wait until they are confirmed (a warning if some are not)."""

    name = "sns-subscriptions"

    def __init__(self, sns_client: Any, dns_map: Callable[[], Mapping[str, Mapping[int, str]]]) -> None:
        self.sns = sns_client
        self.dns_map = dns_map
        self.resubscribed: list[Resubscription] = []
        self.pending: list[Resubscription] = []

    def start(self) -> None:
        self.resubscribed = resubscribe_pending(self.sns, self.dns_map())

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.pending = wait_confirmed(self.sns, self.resubscribed, timeout=timeout)
        if self.pending:
            log.warning("SNS subscriptions still pending confirmation: %s", [r.to_json() for r in self.pending])

    def stop(self) -> None:
        """Nothing runs: subscriptions belong to the emulator."""
