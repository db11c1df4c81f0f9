"""AWS's target health state machine and matcher: pure, no network, no clock."""

from __future__ import annotations

import pytest

from harness.aws.elbv2.health import CheckResult, Matcher, Reason, State, TargetHealthMachine
from harness.aws.elbv2.model import Target

OK = CheckResult.success()
BAD = CheckResult.code_mismatch(500)


def machine(healthy: int = 3, unhealthy: int = 2) -> TargetHealthMachine:
    return TargetHealthMachine(Target("127.0.0.2", 8080), healthy, unhealthy)


def feed(m: TargetHealthMachine, *results: CheckResult) -> list[State]:
    states = []
    for result in results:
        m.record(result)
        states.append(m.state)
    return states


def test_new_target_is_initial_with_registration_in_progress() -> None:
    view = machine().view()
    assert (view.state, view.reason) == (State.INITIAL, Reason.REGISTRATION_IN_PROGRESS)
    assert not view.routable


def test_a_newly_registered_target_becomes_healthy_after_one_passing_check() -> None:
    """AWS: "After your target is registered, it must pass one health check to be considered healthy"."""
    m = machine(healthy=3)
    assert m.record(OK) is True
    view = m.view()
    assert (view.state, view.reason, view.description) == (State.HEALTHY, None, None)
    assert view.routable


def test_initial_becomes_unhealthy_after_unhealthy_threshold_failures() -> None:
    m = machine(unhealthy=2)
    assert feed(m, BAD, BAD) == [State.INITIAL, State.UNHEALTHY]
    assert (m.reason, m.description) == (Reason.RESPONSE_CODE_MISMATCH, "Health checks failed with these codes: [500]")


def test_an_initial_target_that_fails_below_the_threshold_still_needs_only_one_pass() -> None:
    m = machine(healthy=3, unhealthy=3)
    assert feed(m, BAD, BAD) == [State.INITIAL, State.INITIAL]
    assert m.reason == Reason.INITIAL_HEALTH_CHECKING
    assert feed(m, OK) == [State.HEALTHY]


def test_counts_are_of_consecutive_results() -> None:
    m = machine(healthy=3, unhealthy=3)
    feed(m, OK)
    assert feed(m, BAD, BAD, OK, BAD, BAD) == [State.HEALTHY] * 5
    assert feed(m, BAD) == [State.UNHEALTHY]
    assert feed(m, OK, OK, BAD, OK, OK) == [State.UNHEALTHY] * 5
    assert feed(m, OK) == [State.HEALTHY]


def test_healthy_becomes_unhealthy_only_at_the_threshold() -> None:
    m = machine(healthy=1, unhealthy=3)
    feed(m, OK)
    assert feed(m, BAD, BAD) == [State.HEALTHY, State.HEALTHY]
    assert m.view().routable  # still in rotation below the threshold
    assert feed(m, CheckResult.timeout()) == [State.UNHEALTHY]
    assert (m.reason, m.description) == (Reason.TIMEOUT, "Request timed out")


def test_unhealthy_recovers_after_healthy_threshold_and_keeps_latest_failure_reason() -> None:
    m = machine(healthy=2, unhealthy=1)
    feed(m, BAD)
    feed(m, CheckResult.failed())
    assert m.reason == Reason.FAILED_HEALTH_CHECKS
    assert feed(m, OK) == [State.UNHEALTHY]
    assert m.reason == Reason.FAILED_HEALTH_CHECKS
    assert feed(m, OK) == [State.HEALTHY]


def test_deregistered_target_drains_for_the_delay_and_ignores_checks() -> None:
    m = machine(healthy=1)
    feed(m, OK)
    m.start_draining(now=100.0, delay_seconds=30.0)
    assert (m.state, m.reason, m.description) == (
        State.DRAINING,
        Reason.DEREGISTRATION_IN_PROGRESS,
        "Target deregistration is in progress",
    )
    assert not m.view().routable
    assert m.record(OK) is False
    m.start_draining(now=120.0, delay_seconds=30.0)  # a second deregistration does not extend the delay
    assert not m.drained(129.9)
    assert m.drained(130.0)


def test_unused_and_disabled_checks() -> None:
    m = machine(healthy=1)
    m.set_unused()
    assert (m.state, m.reason) == (State.UNUSED, Reason.NOT_IN_USE)
    assert m.record(OK) is False
    m.restart()
    assert m.state == State.INITIAL
    m.set_checks_disabled()
    assert (m.state, m.reason) == (State.UNAVAILABLE, Reason.HEALTH_CHECK_DISABLED)
    assert m.view().routable  # AWS routes to every target when health checks are off


def test_threshold_changes_apply_to_the_running_count() -> None:
    m = machine(healthy=5, unhealthy=1)
    feed(m, BAD, OK, OK)
    m.set_thresholds(healthy_threshold=3, unhealthy_threshold=2)
    assert feed(m, OK) == [State.HEALTHY]


def test_to_json_is_the_describe_target_health_row() -> None:
    m = machine(unhealthy=1)
    feed(m, BAD)
    assert m.view().to_json() == {
        "id": "127.0.0.2",
        "port": 8080,
        "state": "unhealthy",
        "reason": "Target.ResponseCodeMismatch",
        "description": "Health checks failed with these codes: [500]",
    }


@pytest.mark.parametrize(
    ("spec", "accepted", "rejected"),
    [
        ("200", [200], [201, 204, 500]),
        ("200-299", [200, 204, 299], [199, 300, 404]),
        ("200,204", [200, 204], [201, 203]),
        ("200,300-302", [200, 300, 302], [201, 303]),
    ],
)
def test_matcher(spec: str, accepted: list[int], rejected: list[int]) -> None:
    matcher = Matcher(spec)
    assert all(code in matcher for code in accepted)
    assert not any(code in matcher for code in rejected)
