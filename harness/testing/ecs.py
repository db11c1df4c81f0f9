"""Drive the stack's ECS services from a scenario: read them back, scale them, fault their tasks, and put
everything back afterwards.

    ecs = EcsControl(stack)
    api = ecs.load_balanced()                      # the service behind the ALB (described by ECS)
    ecs.scale(api["serviceName"], 2)               # update_service + wait until 2 tasks run
    [task, _] = ecs.running_tasks(api["serviceName"])
    ecs.throttle(task, stopped_for=5)              # or kill / freeze
    ...
    ecs.restore()                                  # desired counts back, faults lifted, tasks running again

Services, task definitions and target groups come from the emulated ECS and ELBv2 APIs, tasks (with
their process ids) from what the ECS runner publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.core.probes import eventually as default_eventually
from harness.testing import chaos
from harness.testing.handle import StackHandle


class EcsControl:
    def __init__(self, stack: StackHandle, eventually: Callable[..., Any] = default_eventually) -> None:
        self.stack, self.eventually = stack, eventually
        self.ecs, self.elbv2 = stack.aws.client("ecs"), stack.aws.client("elbv2")
        self._desired: dict[str, tuple[str, int]] = {}  # service name -> (cluster, desired count before)
        self._frozen: list[dict[str, Any]] = []
        self._throttles: list[chaos.Throttle] = []

    # ------------------------------------------------------------------ reading
    def services(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for cluster in self.ecs.list_clusters()["clusterArns"]:
            arns = self.ecs.list_services(cluster=cluster)["serviceArns"]
            for start in range(0, len(arns), 10):
                found.extend(self.ecs.describe_services(cluster=cluster, services=arns[start:start + 10])["services"])
        return found

    def service(self, name: str) -> dict[str, Any]:
        for service in self.services():
            if name in (service["serviceName"], service["serviceArn"]):
                return service
        raise AssertionError(f"no ECS service {name!r}; services: {[s['serviceName'] for s in self.services()]}")

    def load_balanced(self) -> dict[str, Any]:
        """The one service registered with a load balancer target group."""
        found = [s for s in self.services() if s.get("loadBalancers")]
        if len(found) != 1:
            raise AssertionError(f"expected one load-balanced ECS service, found {[s['serviceName'] for s in found]}")
        return found[0]

    def target_group(self, service: dict[str, Any]) -> dict[str, Any]:
        arn = service["loadBalancers"][0]["targetGroupArn"]
        return dict(self.elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0])

    def target_health(self, service: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """`ip:port` -> TargetHealth (State, Reason, Description) as describe-target-health reports it."""
        arn = service["loadBalancers"][0]["targetGroupArn"]
        described = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {f"{d['Target']['Id']}:{d['Target']['Port']}": d["TargetHealth"] for d in described}

    def running_tasks(self, service_name: str) -> list[dict[str, Any]]:
        return chaos.running_tasks(self.stack, service_name)

    def stopped_task(self, service_name: str, task_arn: str) -> dict[str, Any] | None:
        """The runner's record of a task of `service_name` once it has stopped (stoppedReason, stopCode)."""
        for task in chaos.service_tasks(self.stack, service_name):
            if task["taskArn"] == task_arn and task.get("lastStatus") == "STOPPED":
                return dict(task)
        return None

    # ------------------------------------------------------------------ changing
    def scale(self, service_name: str, desired: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Set the desired count (restored by `restore()`) and wait until that many tasks run."""
        service = self.service(service_name)
        self._desired.setdefault(service["serviceName"], (service["clusterArn"], int(service["desiredCount"])))
        self.ecs.update_service(cluster=service["clusterArn"], service=service["serviceName"], desiredCount=desired)
        return self.wait_running(service["serviceName"], desired, timeout)

    def wait_running(self, service_name: str, count: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        return list(self.eventually(lambda: self.running_tasks(service_name), lambda tasks: len(tasks) == count,
                                    timeout=timeout, what=f"{count} running task(s) of {service_name}"))

    def kill(self, task: dict[str, Any]) -> None:
        chaos.kill_task(task)

    def freeze(self, task: dict[str, Any]) -> None:
        self._frozen.append(task)
        chaos.freeze_task(task)

    def thaw(self, task: dict[str, Any]) -> None:
        chaos.thaw_task(task)

    def throttle(self, task: dict[str, Any], stopped_for: float, running_for: float = 0.05) -> chaos.Throttle:
        throttle = chaos.Throttle(task, stopped_for, running_for).start()
        self._throttles.append(throttle)
        return throttle

    def restore(self, timeout: float = 120.0) -> None:
        """Lift every fault and put back every desired count this control changed; wait until they run."""
        for throttle in self._throttles:
            throttle.stop()
        for task in self._frozen:
            chaos.thaw_task(task)
        self._throttles.clear()
        self._frozen.clear()
        for name, (cluster, desired) in self._desired.items():
            self.ecs.update_service(cluster=cluster, service=name, desiredCount=desired)
        for name, (_, desired) in list(self._desired.items()):
            self.wait_running(name, desired, timeout)
        self._desired.clear()
