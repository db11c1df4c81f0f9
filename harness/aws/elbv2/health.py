"""Target health as AWS models it: states, reason codes, the matcher, and the per-target state machine.

Pure: no network and no clock (times are passed in), so the transitions are unit-testable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from harness.aws.elbv2.model import Target


class State(StrEnum):
    INITIAL = "initial"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    DRAINING = "draining"
    UNUSED = "unused"
    UNAVAILABLE = "unavailable"


class Reason(StrEnum):
    REGISTRATION_IN_PROGRESS = "Elb.RegistrationInProgress"
    INITIAL_HEALTH_CHECKING = "Elb.InitialHealthChecking"
    RESPONSE_CODE_MISMATCH = "Target.ResponseCodeMismatch"
    TIMEOUT = "Target.Timeout"
    FAILED_HEALTH_CHECKS = "Target.FailedHealthChecks"
    DEREGISTRATION_IN_PROGRESS = "Target.DeregistrationInProgress"
    NOT_IN_USE = "Target.NotInUse"
    HEALTH_CHECK_DISABLED = "Target.HealthCheckDisabled"


DESCRIPTIONS: dict[Reason, str] = {
    Reason.REGISTRATION_IN_PROGRESS: "Target registration is in progress",
    Reason.INITIAL_HEALTH_CHECKING: "Initial health checks in progress",
    Reason.TIMEOUT: "Request timed out",
    Reason.FAILED_HEALTH_CHECKS: "Health checks failed",
    Reason.DEREGISTRATION_IN_PROGRESS: "Target deregistration is in progress",
    Reason.NOT_IN_USE: "Target group is not configured to receive traffic from the load balancer",
    Reason.HEALTH_CHECK_DISABLED: "Health checks are disabled",
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one health check probe."""

    ok: bool
    reason: Reason | None = None
    description: str = ""

    @classmethod
    def success(cls) -> CheckResult:
        return cls(ok=True)

    @classmethod
    def code_mismatch(cls, status: int) -> CheckResult:
        return cls(False, Reason.RESPONSE_CODE_MISMATCH, f"Health checks failed with these codes: [{status}]")

    @classmethod
    def timeout(cls) -> CheckResult:
        return cls(False, Reason.TIMEOUT, DESCRIPTIONS[Reason.TIMEOUT])

    @classmethod
    def failed(cls) -> CheckResult:
        return cls(False, Reason.FAILED_HEALTH_CHECKS, DESCRIPTIONS[Reason.FAILED_HEALTH_CHECKS])


@dataclass(frozen=True)
class TargetHealth:
    """One row of describe-target-health, as the data plane sees it."""

    id: str
    port: int
    state: State
    reason: str | None = None
    description: str | None = None

    @property
    def routable(self) -> bool:
        """May receive new requests (healthy, or health checks disabled as AWS then routes to all)."""
        return self.state in (State.HEALTHY, State.UNAVAILABLE)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "port": self.port,
            "state": self.state.value,
            "reason": self.reason,
            "description": self.description,
        }


class Matcher:
    """A target group's success codes: "200", "200-299", "200,204" or a mix ("200,300-399")."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._ranges: list[tuple[int, int]] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            low, _, high = part.partition("-")
            self._ranges.append((int(low), int(high or low)))

    def __contains__(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self._ranges)


class TargetHealthMachine:
    """AWS's health state machine for one registered target.

    initial --one success--> healthy --unhealthy_threshold failures--> unhealthy
    initial --unhealthy_threshold failures--> unhealthy --healthy_threshold successes--> healthy

    A newly registered target needs one passing check, not `healthy_threshold` ("After your target is
    registered, it must pass one health check to be considered healthy", the ALB user guide); the threshold
    is what an unhealthy target needs to come back.
    any --deregistered--> draining --deregistration delay--> gone
    Counts are of *consecutive* results; a result of the other kind resets the count.
    """

    def __init__(self, target: Target, healthy_threshold: int, unhealthy_threshold: int) -> None:
        self.target = target
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.state = State.INITIAL
        self.reason: str | None = Reason.REGISTRATION_IN_PROGRESS
        self.description: str | None = DESCRIPTIONS[Reason.REGISTRATION_IN_PROGRESS]
        self.successes = 0
        self.failures = 0
        self.drain_until: float | None = None

    def set_thresholds(self, healthy_threshold: int, unhealthy_threshold: int) -> None:
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold

    def record(self, result: CheckResult) -> bool:
        """Feed one probe result; True when the state changed. Ignored while draining/unused."""
        if self.state in (State.DRAINING, State.UNUSED, State.UNAVAILABLE):
            return False
        before = self.state
        if result.ok:
            self.successes += 1
            self.failures = 0
        else:
            self.failures += 1
            self.successes = 0

        if self.state == State.INITIAL:
            if result.ok:
                self._set(State.HEALTHY, None, None)
            elif self.failures >= self.unhealthy_threshold:
                self._set(State.UNHEALTHY, result.reason, result.description)
            else:
                self._set(State.INITIAL, Reason.INITIAL_HEALTH_CHECKING, DESCRIPTIONS[Reason.INITIAL_HEALTH_CHECKING])
        elif self.state == State.HEALTHY:
            if not result.ok and self.failures >= self.unhealthy_threshold:
                self._set(State.UNHEALTHY, result.reason, result.description)
        elif self.state == State.UNHEALTHY:
            if result.ok and self.successes >= self.healthy_threshold:
                self._set(State.HEALTHY, None, None)
            elif not result.ok:
                self._set(State.UNHEALTHY, result.reason, result.description)  # latest failure's reason
        return self.state != before

    def start_draining(self, now: float, delay_seconds: float) -> None:
        if self.state == State.DRAINING:
            return
        self._set(State.DRAINING, Reason.DEREGISTRATION_IN_PROGRESS, DESCRIPTIONS[Reason.DEREGISTRATION_IN_PROGRESS])
        self.drain_until = now + delay_seconds

    def drained(self, now: float) -> bool:
        """True once a draining target has served out its deregistration delay and should vanish."""
        return self.state == State.DRAINING and self.drain_until is not None and now >= self.drain_until

    def set_unused(self) -> None:
        """The target group has no listener forwarding to it: AWS reports `unused` and does not check."""
        if self.state != State.DRAINING:
            self._set(State.UNUSED, Reason.NOT_IN_USE, DESCRIPTIONS[Reason.NOT_IN_USE])

    def set_checks_disabled(self) -> None:
        if self.state != State.DRAINING:
            self._set(State.UNAVAILABLE, Reason.HEALTH_CHECK_DISABLED, DESCRIPTIONS[Reason.HEALTH_CHECK_DISABLED])

    def restart(self) -> None:
        """Back to `initial` (target group put in use again, or health checks re-enabled)."""
        if self.state in (State.UNUSED, State.UNAVAILABLE):
            self.successes = self.failures = 0
            self._set(State.INITIAL, Reason.REGISTRATION_IN_PROGRESS, DESCRIPTIONS[Reason.REGISTRATION_IN_PROGRESS])

    def view(self) -> TargetHealth:
        return TargetHealth(self.target.id, self.target.port, self.state, self.reason, self.description)

    def _set(self, state: State, reason: str | None, description: str | None) -> None:
        self.state = state
        self.reason = str(reason) if reason is not None else None
        self.description = description
