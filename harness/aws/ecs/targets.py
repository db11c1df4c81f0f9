"""Register tasks with their services' target groups (ELBv2), as ECS does for awsvpc tasks.

A task's target is `<task ip>:<containerPort of the service's loadBalancers entry>`. Registration
happens when the task is RUNNING; on the way out the target is deregistered first, then the runner
waits the target group's `deregistration_delay.timeout_seconds` (scaled) before the stop signal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws.ecs.model import LoadBalancerRef

log = logging.getLogger(__name__)

DEFAULT_DEREGISTRATION_DELAY = 300.0


@dataclass(frozen=True)
class TargetRef:
    target_group_arn: str
    ip: str
    port: int

    def as_api(self) -> dict[str, Any]:
        return {"Id": self.ip, "Port": self.port}


def task_targets(ip: str, load_balancers: Iterable[LoadBalancerRef]) -> list[TargetRef]:
    return [TargetRef(lb.target_group_arn, ip, lb.container_port) for lb in load_balancers]


class TargetRegistrar:
    def __init__(self, elbv2: Any) -> None:
        self.elbv2 = elbv2

    def register(self, targets: Iterable[TargetRef]) -> list[TargetRef]:
        """Register each target; returns the ones that worked (failures are logged, not raised)."""
        done: list[TargetRef] = []
        for target in targets:
            try:
                self.elbv2.register_targets(TargetGroupArn=target.target_group_arn, Targets=[target.as_api()])
                done.append(target)
            except (ClientError, BotoCoreError) as exc:
                log.warning("cannot register %s:%d in %s: %s", target.ip, target.port, target.target_group_arn, exc)
        return done

    def deregister(self, targets: Iterable[TargetRef]) -> None:
        for target in targets:
            try:
                self.elbv2.deregister_targets(TargetGroupArn=target.target_group_arn, Targets=[target.as_api()])
            except (ClientError, BotoCoreError) as exc:
                log.warning("cannot deregister %s:%d from %s: %s", target.ip, target.port,
                            target.target_group_arn, exc)

    def deregistration_delay(self, target_group_arns: Iterable[str]) -> float:
        """The longest `deregistration_delay.timeout_seconds` of the groups (unscaled seconds)."""
        delays = [0.0]
        for arn in set(target_group_arns):
            try:
                attributes = self.elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            except (ClientError, BotoCoreError):
                continue
            values = {a["Key"]: a.get("Value", "") for a in attributes}
            raw = values.get("deregistration_delay.timeout_seconds", str(DEFAULT_DEREGISTRATION_DELAY))
            try:
                delays.append(float(raw))
            except ValueError:
                delays.append(DEFAULT_DEREGISTRATION_DELAY)
        return max(delays)
