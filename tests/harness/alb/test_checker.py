"""HealthMonitor reconciliation with the model: registration, deregistration, unused target groups."""

from __future__ import annotations

import asyncio

from harness.aws.elbv2.checker import HealthMonitor
from harness.aws.elbv2.health import Reason, State
from harness.aws.elbv2.model import (
    Action,
    AlbModel,
    HealthCheck,
    Listener,
    Rule,
    Target,
    TargetGroup,
    WeightedTargetGroup,
)
from harness.core.clock import Clock

USED, SPARE = "tg-used", "tg-spare"
A, B = Target("127.0.0.2", 1), Target("127.0.0.3", 1)  # nothing listens: probes fail, which is fine here


def model(targets: dict[str, tuple[Target, ...]]) -> AlbModel:
    check = HealthCheck(interval_seconds=30, timeout_seconds=5)
    groups = {
        arn: TargetGroup(arn, arn, "HTTP", 80, "ip", check, deregistration_delay_seconds=10) for arn in (USED, SPARE)
    }
    rule = Rule("rule", None, (), Action(type="forward", target_groups=(WeightedTargetGroup(USED),)))
    listener = Listener("listener", "lb", 80, "HTTP", (rule,))
    return AlbModel({}, {"listener": listener}, groups, targets)


def test_sync_registers_drains_and_marks_unused() -> None:
    async def scenario() -> None:
        now = [100.0]
        monitor = HealthMonitor(Clock(10, monotonic=lambda: now[0]))
        try:
            monitor.sync(model({USED: (A, B), SPARE: (A,)}))
            health = monitor.health()
            assert {t.state for t in health[USED]} == {State.INITIAL}
            assert [(t.state, t.reason) for t in health[SPARE]] == [(State.UNUSED, Reason.NOT_IN_USE)]
            assert monitor.routable(USED) == []

            monitor.sync(model({USED: (A,), SPARE: (A,)}))  # B deregistered
            states = {t.id: (t.state, t.reason) for t in monitor.health()[USED]}
            assert states["127.0.0.3"] == (State.DRAINING, Reason.DEREGISTRATION_IN_PROGRESS)
            await asyncio.sleep(1.1)  # 10 s delay at time_scale 10
            assert [t.id for t in monitor.health()[USED]] == ["127.0.0.2"]

            monitor.sync(model({USED: (A, B), SPARE: (A,)}))  # registered again: a fresh start
            assert {t.id: t.state for t in monitor.health()[USED]}["127.0.0.3"] == State.INITIAL
        finally:
            await monitor.close()

    asyncio.run(scenario())
