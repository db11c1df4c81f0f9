"""The ALB data plane behaves as the Terraform's listeners and target group say: :80 redirects to :443, :443
serves TLS that verifies against the harness CA (and only against it), the emulator reports the data plane's
target health, and a hung target leaves rotation after the health check thresholds without a failed request."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from harness.testing import EcsControl
from harness.testing.handle import StackHandle

pytestmark = pytest.mark.scenario


@pytest.mark.depends_on()  # the :80 listener alone: no target involved
def test_http_listener_redirects_permanently_to_https(stack, aws) -> None:
    http = stack.listener(80)
    [action] = [a for a in aws.client("elbv2").describe_listeners(ListenerArns=[http.arn])["Listeners"][0][
        "DefaultActions"] if a["Type"] == "redirect"]
    response = httpx.get(http.local_url + "/v1/inboxes/x/messages?page=2", follow_redirects=False)
    assert response.status_code == 301 == int(action["RedirectConfig"]["StatusCode"].removeprefix("HTTP_"))
    location = httpx.URL(response.headers["location"])
    assert location.scheme == "https" and location.port in (None, int(action["RedirectConfig"]["Port"]))
    assert location.path == "/v1/inboxes/x/messages" and location.query == b"page=2"


@pytest.mark.depends_on("api-service")
def test_https_verifies_against_the_harness_ca_only(stack) -> None:
    https = stack.listener(443)
    trusted = ssl.create_default_context(cafile=stack.ca_bundle)
    assert httpx.get(https.local_url + "/health", verify=trusted).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(https.local_url + "/health", verify=ssl.create_default_context())


@pytest.mark.depends_on("api-service")  # no target changing state meanwhile
def test_target_health_in_the_emulator_is_the_data_planes(stack, aws) -> None:
    elbv2 = aws.client("elbv2")
    stack.refresh()
    for group in stack.alb.target_groups:
        seen = {(t.id, t.port): t.state for t in group.targets}
        described = elbv2.describe_target_health(TargetGroupArn=group.arn)["TargetHealthDescriptions"]
        reported = {(d["Target"]["Id"], int(d["Target"]["Port"])): d["TargetHealth"]["State"] for d in described}
        assert reported == seen


def _target_of(task: dict[str, Any], service: dict[str, Any]) -> str:
    [ip] = [d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address"]
    return f"{ip}:{service['loadBalancers'][0]['containerPort']}"


class Clients:
    """Requests through the ALB, back to back on `threads` connections, each result recorded."""

    def __init__(self, stack: StackHandle, threads: int = 2, path: str = "/health") -> None:
        self.results: list[tuple[int | str, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(stack, path), daemon=True) for _ in range(threads)]

    def _loop(self, stack: StackHandle, path: str) -> None:
        with stack.https(timeout=120) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    outcome: int | str = client.get(path).status_code
                except httpx.HTTPError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                self.results.append((outcome, time.monotonic() - started))

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=150)


@pytest.mark.disturbs("api-service")  # runs the API service at two tasks and hangs one
@pytest.mark.depends_on("database")  # the API's health check needs it
def test_hung_api_task_leaves_rotation_after_the_threshold_and_no_request_fails(
    stack: StackHandle, ecs: EcsControl, eventually: Callable[..., Any], harness_settings: Any
) -> None:
    """One of two API tasks hangs (SIGSTOP: port open, no answers) for as long as the ALB takes to find out.
    It leaves rotation after the unhealthy threshold, ECS replaces it (the ALB reported it unhealthy), the
    requests it held are answered once it resumes while it drains, and the replacement joins after its
    first passing check (a new target needs one, not the healthy threshold).
    No request through the ALB fails meanwhile."""
    service = ecs.load_balanced()
    group = ecs.target_group(service)
    interval = group["HealthCheckIntervalSeconds"] / float(harness_settings.time_scale)
    check_timeout = group["HealthCheckTimeoutSeconds"] / float(harness_settings.time_scale)
    tasks = ecs.scale(service["serviceName"], max(2, int(service["desiredCount"])))
    targets = {_target_of(task, service) for task in tasks}
    eventually(lambda: {t: h["State"] for t, h in ecs.target_health(service).items()},
               lambda states: set(states) == targets and set(states.values()) == {"healthy"},
               timeout=90, what="every API target registered and healthy before the fault")
    ecs.wait_past_grace(service, harness_settings.time_scale)  # the ALB's verdict, not the container's, replaces it
    hung, hung_target = tasks[0], _target_of(tasks[0], service)

    with Clients(stack) as clients:
        eventually(lambda: len(clients.results), lambda answered: answered >= 20, timeout=30, interval=0.05,
                   what="requests flowing through the ALB (to both targets, round robin) before the fault")
        frozen_at = time.monotonic()
        ecs.freeze(hung)
        try:
            left = eventually(lambda: ecs.target_health(service).get(hung_target, {"State": "deregistered"}),
                              lambda health: health["State"] != "healthy", timeout=(group[
                                  "UnhealthyThresholdCount"] + 3) * interval + 30, interval=0.1,
                              what=f"the hung target {hung_target} leaving rotation")
            out_after = time.monotonic() - frozen_at
        finally:
            ecs.thaw(hung)  # the hang clears: what it held is answered while it drains
        stopped = eventually(lambda: ecs.stopped_task(service["serviceName"], hung["taskArn"]), timeout=120,
                             what="ECS stopping the task the ALB reported unhealthy")
        replacements = eventually(
            lambda: {_target_of(t, service): t for t in ecs.running_tasks(service["serviceName"])
                     if _target_of(t, service) not in targets},
            timeout=120, what="a replacement task running")
        [new_target] = replacements
        seen: list[str] = []

        def replacement_state() -> str | None:
            state = ecs.target_health(service).get(new_target, {}).get("State")
            if state and (not seen or seen[-1] != state):
                seen.append(state)
            return state

        eventually(replacement_state, lambda s: s == "healthy",
                   timeout=120, interval=0.1, what=f"the replacement target {new_target} healthy")
        time.sleep(2 * interval)  # and serving alongside the other task

    lower = (group["UnhealthyThresholdCount"] - 1) * interval
    assert lower * 0.9 <= out_after <= (group["UnhealthyThresholdCount"] + 1) * interval + check_timeout + 3, left
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {group['TargetGroupArn']})"
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    failures = [(outcome, round(took, 2)) for outcome, took in clients.results if outcome != 200]
    assert failures == [] and len(clients.results) > 10, f"{len(clients.results)} requests, failed: {failures}"
    assert max(took for _, took in clients.results) > check_timeout, "no request was held by the hung task"
    # A newly registered target goes `initial` -> `healthy` (one passing check; the poll may miss `initial`).
    assert seen[-1] == "healthy" and set(seen) <= {"initial", "healthy"}, f"replacement target states: {seen}"
