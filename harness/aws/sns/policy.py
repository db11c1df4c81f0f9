"""SNS HTTP/S delivery policy: the retry schedule and Content-Type AWS derives from a topic's and a
subscription's ``DeliveryPolicy`` (subscription over topic unless the topic disables overrides)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"


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
