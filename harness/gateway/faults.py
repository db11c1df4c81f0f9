"""Fault rules and the seeded choice of which calls they hit.

A rule matches calls by service (required; "*" for any), operation and caller (optional). It fires with
a probability (a seeded RNG of its own, so the same seed and the same sequence of matching calls give the
same faults, whatever other rules do) and/or for a count (the next N matching calls it fires on; then it
is spent). Kinds: the AWS errors of `errors.ERRORS`, `latency` (delay_ms plus a uniform jitter in
[0, jitter_ms]; the call then goes on) and `blackout` (the connection is reset without an answer).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.gateway.classify import Call
from harness.gateway.errors import ERROR_KINDS

KINDS = (*ERROR_KINDS, "latency", "blackout")
SERVICE_ALIASES = {"cloudwatch": "monitoring", "elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing",
                   "email": "ses", "sesv2": "ses"}


def canonical_service(name: str) -> str:
    """The signing name for a service name a user may write (`cloudwatch` is signed as `monitoring`)."""
    return SERVICE_ALIASES.get(name.lower(), name.lower())


class RuleError(ValueError):
    """A fault rule that cannot work (unknown kind, probability out of range, ...)."""


@dataclass
class FaultRule:
    service: str
    kind: str
    operation: str | None = None
    caller: str | None = None
    probability: float | None = None
    count: int | None = None
    code: str | None = None
    status: int | None = None
    message: str | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    id: str = ""
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def check(self) -> None:
        if self.kind not in KINDS:
            raise RuleError(f"unknown fault kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise RuleError(f"probability {self.probability} is not in [0, 1]")
        if self.count is not None and self.count < 1:
            raise RuleError(f"count {self.count} is not a positive number of calls")
        if self.probability is None and self.count is None:
            raise RuleError("a rule needs a probability, a count or both")
        if self.kind == "latency" and self.delay_ms <= 0 and self.jitter_ms <= 0:
            raise RuleError("a latency rule needs delay_ms or jitter_ms")
        if min(self.delay_ms, self.jitter_ms) < 0:
            raise RuleError("delay_ms and jitter_ms cannot be negative")

    @property
    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, call: Call) -> bool:
        return (
            self.service in ("*", call.service)
            and (self.operation is None or self.operation == call.operation)
            and (self.caller is None or self.caller in (call.caller.id, call.caller.access_key, call.caller.name))
        )

    def fires(self) -> bool:
        """Decide for one matching call (draws from the rule's RNG only when it has a probability)."""
        if self.spent:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def delay(self) -> float:
        """Seconds a latency rule adds to this call."""
        return (self.delay_ms + (self._rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0)) / 1000.0

    def describe(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_") and v is not None}
        data["spent"] = self.spent
        return data


@dataclass(frozen=True)
class Decision:
    """What the faults do to one call: a delay first, then an error, a blackout or nothing."""

    delay: float = 0.0
    latency_rules: tuple[str, ...] = ()
    rule: FaultRule | None = None  # the error or blackout rule that fired

    @property
    def label(self) -> str | None:
        parts = []
        if self.latency_rules:
            parts.append(f"latency+{self.delay * 1000:.0f}ms[{','.join(self.latency_rules)}]")
        if self.rule is not None:
            parts.append(f"{self.rule.kind}[{self.rule.id}]")
        return " ".join(parts) or None


class FaultBook:
    """The rules in force. Rules are checked in the order they were added; every latency rule that fires
    adds its delay, and the first error or blackout rule that fires decides the answer."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule) -> FaultRule:
        rule.service = "*" if rule.service == "*" else canonical_service(rule.service)
        rule.check()
        if not rule.id:
            rule.id = f"r{next(self._ids)}"
        if any(r.id == rule.id for r in self.rules):
            raise RuleError(f"a rule with id {rule.id!r} exists already")
        rule._rng = random.Random(f"{self.seed}:{rule.id}")
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def clear(self, seed: int | None = None) -> None:
        """Drop every rule; with `seed`, later rules draw from that seed (and ids count from r1 again)."""
        self.rules = []
        if seed is not None:
            self.seed = seed
            self._ids = itertools.count(1)

    def decide(self, call: Call) -> Decision:
        delay = 0.0
        latency: list[str] = []
        for rule in self.rules:
            if rule.spent or not rule.matches(call):
                continue
            if rule.kind == "latency":
                if rule.fires():
                    delay += rule.delay()
                    latency.append(rule.id)
            elif rule.fires():
                return Decision(delay, tuple(latency), rule)
        return Decision(delay, tuple(latency))


def rule_from(data: dict[str, Any]) -> FaultRule:
    """A rule from its JSON form (the control API's body)."""
    allowed = {"service", "kind", "operation", "caller", "probability", "count", "code", "status", "message",
               "delay_ms", "jitter_ms", "id"}
    unknown = set(data) - allowed
    if unknown:
        raise RuleError(f"unknown rule fields: {', '.join(sorted(unknown))}")
    if "service" not in data or "kind" not in data:
        raise RuleError("a rule needs a service and a kind")
    try:
        return FaultRule(**data)
    except TypeError as exc:
        raise RuleError(str(exc)) from exc
