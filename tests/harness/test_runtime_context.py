"""The runtime's shared leaves: one clock, one lifecycle order, one wait helper."""

from __future__ import annotations

import threading

import pytest

from harness.core.clock import TIME_SCALE_ENV, Clock
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.lifecycle import Component, Components, Readiness
from harness.core.probes import EventuallyFailed, eventually


def test_clock_converts_aws_durations_and_waits_on_events() -> None:
    clock = Clock(10)
    assert clock.seconds(30) == 3.0
    event = threading.Event()
    event.set()
    assert clock.wait(event, 3600)  # returns at once when the event is set
    assert not Clock(1000).wait(threading.Event(), 1)  # 1 AWS second is 1 ms here


def test_clock_scale_comes_from_the_environment_for_child_processes() -> None:
    assert Clock.from_env({TIME_SCALE_ENV: "5"}).time_scale == 5.0
    assert Clock.from_env({}).time_scale == 1.0
    with pytest.raises(ValueError, match="positive"):
        Clock(0)
    with pytest.raises(ValueError, match=TIME_SCALE_ENV):
        Clock.from_env({TIME_SCALE_ENV: "fast"})


def test_context_gives_every_component_the_same_clients_clock_and_ca(tmp_path) -> None:
    context = RuntimeContext.for_emulator("http://127.0.0.1:1", "eu-west-1", tmp_path, time_scale=4)
    assert (context.endpoint_url, context.region, context.clock.time_scale) == ("http://127.0.0.1:1", "eu-west-1", 4)
    assert context.clients.client("sqs") is context.clients.client("sqs")
    assert context.clients.for_region("eu-west-1") is context.clients
    assert context.clients.for_region("us-east-1").region == "us-east-1"
    assert context.ca.state_dir == tmp_path / "alb" / "tls"
    assert context.paths.ses_dir == tmp_path / "ses"


class Recorder:
    def __init__(self, name: str, log: list[str], fail_ready: bool = False) -> None:
        self.name, self.log, self.fail_ready = name, log, fail_ready

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def wait_ready(self, timeout: float) -> None:
        self.log.append(f"ready {self.name} {timeout:g}")
        if self.fail_ready:
            raise ReadinessTimeoutError(f"{self.name} not ready")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_components_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    parts = [Recorder("a", log), Readiness("serving", lambda t: log.append(f"waited {t:g}")), Recorder("b", log)]
    assert all(isinstance(part, Component) for part in parts)
    components = Components(parts, ready_timeouts={"b": 5})
    components.start(default_timeout=7, on_ready=lambda c: log.append(f"on_ready {c.name}"))
    components.stop()
    components.stop()  # idempotent: nothing left to stop
    assert log == ["start a", "ready a 7", "on_ready a", "waited 7", "on_ready serving", "start b", "ready b 5",
                   "on_ready b", "stop b", "stop a"]


def test_a_component_that_fails_to_start_stops_those_started_before_it() -> None:
    log: list[str] = []
    components = Components([Recorder("a", log), Recorder("b", log, fail_ready=True), Recorder("c", log)])
    with pytest.raises(ReadinessTimeoutError):
        components.start()
    components.stop()
    assert log == ["start a", "ready a 30", "start b", "ready b 30", "stop b", "stop a"]


def test_eventually_returns_the_value_or_names_the_last_one_seen() -> None:
    values = iter([0, 1, 2, 3])
    assert eventually(lambda: next(values), lambda v: v >= 2, timeout=5, interval=0) == 2
    with pytest.raises(EventuallyFailed, match="last observed: 0"):
        eventually(lambda: 0, timeout=0.05, interval=0.01, what="zero becomes one")


def test_eventually_stops_at_a_fatal_error_and_raises_the_callers_timeout_error() -> None:
    def failed() -> bool:
        raise HarnessError("the process exited", "see its log")

    with pytest.raises(HarnessError, match="the process exited"):
        eventually(failed, timeout=5, interval=0, fatal=(HarnessError,))
    with pytest.raises(ReadinessTimeoutError, match="not ready: never"):
        eventually(lambda: False, timeout=0.05, interval=0.01, what="never",
                   timeout_error=lambda message: ReadinessTimeoutError(f"not ready: {message}"))


def test_every_data_plane_component_follows_the_one_lifecycle(tmp_path) -> None:
    from harness.aws.cloudwatch.emulation import CloudWatchEmulation
    from harness.aws.ecs.runner import EcsRunner
    from harness.aws.elbv2.dataplane import AlbDataPlane
    from harness.aws.route53.resolver import DnsTruthPublisher
    from harness.aws.ses.inbound import SesInbound
    from harness.aws.sns.confirm import SubscriptionConfirmer

    context = RuntimeContext.for_emulator("http://127.0.0.1:1", "us-east-1", tmp_path)
    alb = AlbDataPlane(context)
    ecs = EcsRunner(context)
    parts = [
        alb,
        DnsTruthPublisher(context.clients.client("route53"), context.clients.client("elbv2"), alb, tmp_path / "d"),
        SesInbound(context),
        ecs,
        SubscriptionConfirmer(context.clients.client("sns"), dict),
        CloudWatchEmulation(context, alb, ecs),
    ]
    try:
        assert [part.name for part in parts if isinstance(part, Component)] == [
            "alb", "dns", "ses", "ecs", "sns-subscriptions", "cloudwatch"]
        assert alb.clock is ecs.clock is context.clock
    finally:
        ecs.stop()
