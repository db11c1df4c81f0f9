"""Drive the stack's ECS services from a scenario: read them back, scale them, fault their tasks, and put
everything back afterwards.

    ecs = EcsControl(stack)
    api = ecs.load_balanced()                      # the service behind the ALB (described by ECS)
    ecs.scale(api["serviceName"], 2)               # update_service + wait until 2 tasks run
    [task, _] = ecs.running_tasks(api["serviceName"])
    ecs.throttle(task, stopped_for=5)              # or kill / freeze
    revision = ecs.register_revision(name, {"LOG_LEVEL": "DEBUG"})  # the task with other environment
    ecs.deploy(name, revision)                     # update_service + wait until only that revision runs
    ...
    ecs.restore()                                  # task definitions and desired counts back, faults lifted,
                                                   # revisions deregistered, tasks running (and healthy
                                                   # behind their load balancer) again

Services, task definitions and target groups come from the emulated ECS and ELBv2 APIs, tasks (with
their process ids) from what the ECS runner publishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.core.probes import eventually as default_eventually
from harness.testing import chaos
from harness.testing.handle import StackHandle
from harness.testing.task_definitions import with_environment


class EcsControl:
    def __init__(self, stack: StackHandle, eventually: Callable[..., Any] = default_eventually) -> None:
        self.stack, self.eventually = stack, eventually
        self.ecs, self.elbv2 = stack.aws.client("ecs"), stack.aws.client("elbv2")
        # service name -> (cluster, task definition, desired count) before this control changed it
        self._original: dict[str, tuple[str, str, int]] = {}
        self._registered: list[str] = []  # task definition revisions this control registered
        self._touched: set[str] = set()  # services whose tasks this control faulted or replaced
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

    def task_definition(self, service_name: str) -> dict[str, Any]:
        """`DescribeTaskDefinition` (with tags) of the revision the service runs now."""
        arn = self.service(service_name)["taskDefinition"]
        return dict(self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]))

    def wait_past_grace(self, service: dict[str, Any], time_scale: float, timeout: float = 120.0) -> None:
        """Wait until every running task of the load-balanced service has run longer than the service's
        healthCheckGracePeriodSeconds (on the stack's scaled clock): from then on, ECS replaces a task its load
        balancer reports unhealthy. A fault injected into a younger task meets its container health check first."""
        grace = float(service.get("healthCheckGracePeriodSeconds") or 0) / time_scale

        def youngest() -> float:
            return max(float(t.get("startedAt") or time.time()) for t in self.running_tasks(service["serviceName"]))

        self.eventually(youngest, lambda started: time.time() - started > grace, timeout=timeout,
                        interval=0.1, what=f"every task of {service['serviceName']} past its {grace:g}s health "
                                           "check grace period (observed: the youngest task's startedAt)")

    def wait_stopped(self, service_name: str, task_arns: list[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        """The runner's records of these tasks once every one of them has stopped."""
        def stopped() -> list[dict[str, Any] | None]:
            return [self.stopped_task(service_name, arn) for arn in task_arns]

        records = self.eventually(stopped, lambda found: all(found), timeout=timeout,
                                  what=f"tasks {task_arns} of {service_name} stopped")
        return [dict(record) for record in records if record is not None]

    # ------------------------------------------------------------------ changing
    def _remember(self, service: dict[str, Any]) -> None:
        self._original.setdefault(service["serviceName"], (service["clusterArn"], service["taskDefinition"],
                                                           int(service["desiredCount"])))

    def scale(self, service_name: str, desired: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Set the desired count (restored by `restore()`) and wait until that many tasks run."""
        service = self.service(service_name)
        self._remember(service)
        self._touched.add(service["serviceName"])
        self.ecs.update_service(cluster=service["clusterArn"], service=service["serviceName"], desiredCount=desired)
        return self.wait_running(service["serviceName"], desired, timeout)

    def wait_running(self, service_name: str, count: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        return list(self.eventually(lambda: self.running_tasks(service_name), lambda tasks: len(tasks) == count,
                                    timeout=timeout, what=f"{count} running task(s) of {service_name}"))

    def register_revision(self, service_name: str, environment: dict[str, str],
                          container: str | None = None) -> str:
        """Register a revision of the service's task definition with `environment` set in `container` (default:
        its only container); deregistered again by `restore()`. Returns its ARN; `deploy` runs it."""
        request = with_environment(self.task_definition(service_name), environment, container)
        arn = str(self.ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"])
        self._registered.append(arn)
        return arn

    def deploy(self, service_name: str, task_definition: str, desired: int | None = None,
               timeout: float = 120.0) -> list[dict[str, Any]]:
        """Run `task_definition` (and set the desired count, if given) for the service: `UpdateService`, then wait
        until exactly the desired number of its tasks run and every task of another revision has stopped.
        `restore()` puts back the task definition and desired count the service had before."""
        service = self.service(service_name)
        self._remember(service)
        self._touched.add(service["serviceName"])
        changes: dict[str, Any] = {"taskDefinition": task_definition}
        if desired is not None:
            changes["desiredCount"] = desired
        self.ecs.update_service(cluster=service["clusterArn"], service=service["serviceName"], **changes)
        count = int(service["desiredCount"]) if desired is None else desired
        return self.wait_deployed(service["serviceName"], task_definition, count, timeout)

    def wait_deployed(self, service_name: str, task_definition: str, count: int,
                      timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until `count` tasks of `task_definition` run and no task of another revision is active."""
        def deployed(tasks: list[dict[str, Any]]) -> bool:
            active = [t for t in tasks if t.get("lastStatus") != "STOPPED"]
            running = [t for t in active if t.get("lastStatus") == "RUNNING"]
            return len(running) == count and all(t["taskDefinitionArn"] == task_definition for t in active)

        tasks = self.eventually(lambda: chaos.service_tasks(self.stack, service_name), deployed, timeout=timeout,
                                what=f"{count} running task(s) of {service_name}, all of {task_definition}")
        return [t for t in tasks if t.get("lastStatus") == "RUNNING"]

    def kill(self, task: dict[str, Any]) -> None:
        self._touched.add(_service_of(task))
        chaos.kill_task(task)

    def freeze(self, task: dict[str, Any]) -> None:
        self._touched.add(_service_of(task))
        self._frozen.append(task)
        chaos.freeze_task(task)

    def thaw(self, task: dict[str, Any]) -> None:
        chaos.thaw_task(task)

    def throttle(self, task: dict[str, Any], stopped_for: float, running_for: float = 0.05) -> chaos.Throttle:
        self._touched.add(_service_of(task))
        throttle = chaos.Throttle(task, stopped_for, running_for).start()
        self._throttles.append(throttle)
        return throttle

    def restore(self, timeout: float = 120.0) -> None:
        """Lift every fault and put back every task definition and desired count this control changed; wait
        until the services run them again (and, behind a load balancer, every target serves: the stack as the
        next scenario expects it); deregister the revisions it registered."""
        for throttle in self._throttles:
            throttle.stop()
        for task in self._frozen:
            chaos.thaw_task(task)
        self._throttles.clear()
        self._frozen.clear()
        for name, (cluster, task_definition, desired) in self._original.items():
            self.ecs.update_service(cluster=cluster, service=name, taskDefinition=task_definition,
                                    desiredCount=desired)
        for name, (_, task_definition, desired) in list(self._original.items()):
            self.wait_deployed(name, task_definition, desired, timeout)
        for name in sorted(self._touched):
            service = self.service(name)
            if service.get("loadBalancers"):
                self.wait_serving(service, timeout)
        for arn in self._registered:
            self.ecs.deregister_task_definition(taskDefinition=arn)
        self._original.clear()
        self._touched.clear()
        self._registered.clear()

    def wait_serving(self, service: dict[str, Any], timeout: float = 120.0) -> None:
        """Wait until the load-balanced service's running tasks are exactly its healthy targets (targets still
        draining aside)."""
        def serving() -> tuple[set[str], dict[str, str]]:
            running = {_target_of(task, service) for task in self.running_tasks(service["serviceName"])}
            states = {target: health["State"] for target, health in self.target_health(service).items()
                      if health["State"] != "draining"}
            return running, states

        desired = int(self.service(service["serviceName"])["desiredCount"])
        self.eventually(serving, lambda seen: len(seen[0]) == desired and seen[1] == dict.fromkeys(
            seen[0], "healthy"), timeout=timeout, what=f"every task of {service['serviceName']} a healthy target "
                               "(observed: running tasks' targets, target states)")


def _service_of(task: dict[str, Any]) -> str:
    return str(task.get("group", "")).removeprefix("service:")


def _target_of(task: dict[str, Any], service: dict[str, Any]) -> str:
    """`ip:port` of a task in its service's (first) target group."""
    [ip] = [d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address"]
    return f"{ip}:{service['loadBalancers'][0]['containerPort']}"
