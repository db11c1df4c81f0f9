"""Health checking: probe each registered target per its target group's settings and drive its state
machine; handle registration, deregistration (draining) and target groups not in use.

Runs on the data plane's event loop; `health()` and `routable()` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import httpx

from harness.aws.elbv2.health import CheckResult, Matcher, State, TargetHealth, TargetHealthMachine
from harness.aws.elbv2.model import AlbModel, HealthCheck, Target, TargetGroup
from harness.core.clock import REAL_TIME, Clock

log = logging.getLogger(__name__)

USER_AGENT = "ELB-HealthChecker/2.0"


def _host(target_id: str) -> str:
    return f"[{target_id}]" if ":" in target_id else target_id


async def probe(client: httpx.AsyncClient, target: Target, check: HealthCheck, clock: Clock) -> CheckResult:
    """One health check of `target`: protocol, port, path, timeout (on `clock`) and matcher from `check`."""
    port = check.port_for(target.port)
    timeout = clock.seconds(check.timeout_seconds)
    try:
        async with asyncio.timeout(timeout):
            if check.protocol == "TCP":
                _, writer = await asyncio.open_connection(target.id, port)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return CheckResult.success()
            url = f"{check.protocol.lower()}://{_host(target.id)}:{port}{check.path}"
            response = await client.get(url, headers={"User-Agent": USER_AGENT})
    except (TimeoutError, httpx.TimeoutException):
        return CheckResult.timeout()
    except (httpx.HTTPError, OSError):
        return CheckResult.failed()
    if response.status_code in Matcher(check.matcher):
        return CheckResult.success()
    return CheckResult.code_mismatch(response.status_code)


Key = tuple[str, Target]


class HealthMonitor:
    """Health of every registered target of every target group, kept in step with the model by `sync`."""

    def __init__(self, clock: Clock = REAL_TIME) -> None:
        self.clock = clock
        self._clock = clock.monotonic
        self._lock = threading.Lock()
        self._machines: dict[Key, TargetHealthMachine] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._drain_timers: dict[Key, asyncio.TimerHandle] = {}
        self._target_groups: dict[str, TargetGroup] = {}
        self._client = httpx.AsyncClient(
            verify=False,  # noqa: S501 - AWS does not validate target certificates either
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    # ----------------------------------------------------------------- queries (any thread)
    def health(self) -> dict[str, list[TargetHealth]]:
        with self._lock:
            result: dict[str, list[TargetHealth]] = {arn: [] for arn in self._target_groups}
            for (tg_arn, _), machine in sorted(self._machines.items()):
                result.setdefault(tg_arn, []).append(machine.view())
        return result

    def routable(self, target_group_arn: str) -> list[Target]:
        """Targets that may take a new request. When none is routable but some are unhealthy, the unhealthy
        ones: an ALB fails open (routes to every unhealthy target) rather than answer 503 while targets
        are registered; 503 is for a group with nothing but initial, draining or no targets."""
        with self._lock:
            views = [(target, machine.view()) for (tg_arn, target), machine in self._machines.items()
                     if tg_arn == target_group_arn]
        routable = [target for target, view in views if view.routable]
        return routable or [target for target, view in views if view.state == State.UNHEALTHY]

    # ----------------------------------------------------------------- reconciliation (loop thread)
    def sync(self, model: AlbModel) -> None:
        """Bring machines and probe tasks in line with `model`: new targets start `initial`, missing ones
        start draining, groups without a listener are `unused`, settings changes apply at once."""
        in_use = model.target_groups_in_use()
        now = self._clock()
        with self._lock:
            self._target_groups = dict(model.target_groups)
            for key in [k for k in self._machines if k[0] not in model.target_groups]:
                self._forget(key)
            for tg_arn, tg in model.target_groups.items():
                hc = tg.health_check
                registered = set(model.targets.get(tg_arn, ()))
                for target in registered:
                    key = (tg_arn, target)
                    machine = self._machines.get(key)
                    if machine is None or machine.state == State.DRAINING:  # new, or re-registered
                        self._forget(key)
                        machine = TargetHealthMachine(target, hc.healthy_threshold, hc.unhealthy_threshold)
                        self._machines[key] = machine
                    machine.set_thresholds(hc.healthy_threshold, hc.unhealthy_threshold)
                    if tg_arn not in in_use:
                        machine.set_unused()
                        self._stop_probing(key)
                    elif not hc.enabled:
                        machine.set_checks_disabled()
                        self._stop_probing(key)
                    else:
                        machine.restart()
                        self._start_probing(key)
                for key, machine in list(self._machines.items()):
                    if key[0] == tg_arn and key[1] not in registered and machine.state != State.DRAINING:
                        self._drain(key, machine, tg, now)

    def _start_probing(self, key: Key) -> None:
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.get_running_loop().create_task(
                self._probe_loop(key), name=f"health-check {key[1].id}:{key[1].port}"
            )

    def _stop_probing(self, key: Key) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def _drain(self, key: Key, machine: TargetHealthMachine, tg: TargetGroup, now: float) -> None:
        self._stop_probing(key)
        delay = self.clock.seconds(tg.deregistration_delay_seconds)
        machine.start_draining(now, delay)
        log.info("target %s:%s of %s draining for %.2fs", key[1].id, key[1].port, tg.name, delay)
        self._drain_timers[key] = asyncio.get_running_loop().call_later(delay, self._drained, key, machine)

    def _drained(self, key: Key, machine: TargetHealthMachine) -> None:
        with self._lock:
            if self._machines.get(key) is machine:
                self._machines.pop(key, None)
                self._drain_timers.pop(key, None)

    def _forget(self, key: Key) -> None:
        self._stop_probing(key)
        timer = self._drain_timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._machines.pop(key, None)

    async def _probe_loop(self, key: Key) -> None:
        tg_arn, target = key
        while True:
            started = self._clock()
            with self._lock:
                tg = self._target_groups.get(tg_arn)
                machine = self._machines.get(key)
            if tg is None or machine is None:
                return
            result = await probe(self._client, target, tg.health_check, self.clock)
            with self._lock:
                if self._machines.get(key) is not machine:
                    return
                before = machine.state
                if machine.record(result):
                    log.info(
                        "target %s:%s of %s: %s -> %s (%s)",
                        target.id,
                        target.port,
                        tg.name,
                        before,
                        machine.state,
                        machine.reason or "ok",
                    )
            interval = self.clock.seconds(tg.health_check.interval_seconds)
            await asyncio.sleep(max(0.0, started + interval - self._clock()))

    async def close(self) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            for timer in self._drain_timers.values():
                timer.cancel()
            self._tasks.clear()
            self._drain_timers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()
