"""ECS services and tasks are what the harness's ECS runner actually runs.

AWS: ``DescribeServices`` counts the service's RUNNING and PENDING tasks (``runningCount``,
``pendingCount``, and per deployment); ``ListTasks`` lists the tasks of a cluster, filtered by
``serviceName``, ``family``, ``startedBy``, ``launchType``, ``containerInstance`` and ``desiredStatus``
(RUNNING when not given); ``DescribeTasks`` describes them, and reports an unknown task as a failure
with reason MISSING.
Stock moto: runs no task for a service, so ``runningCount`` is 0 (``pendingCount`` the desired count)
forever, ``ListTasks``/``DescribeTasks`` know only tasks started by RunTask/StartTask, and the
``serviceName`` filter is ignored.

This patch reads the ECS runner's truth (``EcsRunner.snapshot()``, written by the runtime daemon as
``harness.core.truth.EcsTruth`` to the file named by ``HARNESS_ECS_TRUTH``) on each call and, when the
file exists,

* ``DescribeServices``: ``runningCount``/``pendingCount`` and those of ``deployments[0]`` from the
  truth (0/0 for a service the runner has not picked up yet); moto's state is not changed;
* ``ListTasks``: moto's own tasks (as moto filters them, ``serviceName`` now matching their
  ``service:<name>`` group) plus the runner's tasks matching every filter given;
* ``DescribeTasks``: moto's own tasks plus the runner's, with the runner's ``harness`` key dropped, and
  a MISSING failure for each task found in neither.

Without the file, moto's answers stay.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch
from harness.core.rundir import ECS_TRUTH_ENV
from harness.core.truth import EcsServiceTruth, EcsTruth, TruthReader

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.ecs.models import Service
    from moto.ecs.responses import EC2ContainerServiceResponse

HARNESS_KEY = "harness"  # what EcsRunner adds to each describe-tasks-shaped task; not an ECS field

_reader = TruthReader(ECS_TRUTH_ENV, EcsTruth)


def _name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1]


def truth_tasks(truth: EcsTruth) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(service ARN or None, task as DescribeTasks returns it) for every task the runner runs."""
    for service_arn, entry in truth.services.items():
        for task in entry.tasks:
            if task.get("taskArn"):
                yield service_arn, {k: v for k, v in task.items() if k != HARNESS_KEY}
    for task in truth.standalone:
        if task.get("taskArn"):
            extra = task.get(HARNESS_KEY)
            service_arn = extra.get("serviceArn") if isinstance(extra, dict) else None
            yield service_arn, {k: v for k, v in task.items() if k != HARNESS_KEY}


def _service_entry(truth: EcsTruth, service: Service) -> EcsServiceTruth | None:
    if service.arn in truth.services:
        return truth.services[service.arn]
    for entry in truth.services.values():  # the other ARN format (short/long) for the same service
        if entry.serviceName == service.name and entry.clusterArn == service.cluster_arn:
            return entry
    return None


def _counts(entry: EcsServiceTruth | None) -> tuple[int, int]:
    if entry is None:
        return 0, 0  # the runner has not started anything for it yet
    return entry.runningCount, entry.pendingCount


def _with_counts(service: Service, running: int, pending: int) -> Service:
    """A copy of moto's service as the serializer sees it, with the runner's counts."""
    shown = copy.copy(service)
    shown.running_count = running
    shown.pending_count = pending
    if service.deployments:
        first = {**service.deployments[0], "runningCount": running, "pendingCount": pending}
        shown.deployments = [first, *service.deployments[1:]]
    return shown


def describe_services(original: Any, self: EC2ContainerServiceResponse) -> ActionResult:
    result = original(self)
    truth = _reader.read()
    if truth is None:
        return result
    body: dict[str, Any] = result.result  # type: ignore[assignment]
    body["services"] = [_with_counts(s, *_counts(_service_entry(truth, s))) for s in body["services"]]
    return result


def list_tasks(original: Any, self: EC2ContainerServiceResponse) -> ActionResult:
    from moto.core.responses import ActionResult

    truth = _reader.read()
    if truth is None:
        return original(self)
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))  # ClusterNotFound as AWS
    container_instance = self._get_param("containerInstance")
    family = self._get_param("family")
    started_by = self._get_param("startedBy")
    service_name = self._get_param("serviceName")
    desired_status = self._get_param("desiredStatus")
    launch_type = self._get_param("launchType")

    own = self.ecs_backend.list_tasks(cluster.arn, container_instance, family, started_by, service_name, desired_status)
    if service_name:  # moto ignores the filter; ECS sets a service task's group to service:<name>
        own = [t for t in own if t.group == f"service:{_name(service_name)}"]
    arns = [t.task_arn for t in own]
    if not container_instance:  # the runner's tasks are Fargate-like: on no container instance
        for service_arn, task in truth_tasks(truth):
            definition = _name(str(task.get("taskDefinitionArn", "")))
            if (
                _name(str(task.get("clusterArn", ""))) == cluster.name
                and (not family or definition.rsplit(":", 1)[0] == family)
                and (not started_by or task.get("startedBy") == started_by)
                and (not service_name or (service_arn is not None and _name(service_arn) == _name(service_name)))
                and task.get("desiredStatus") == (desired_status or "RUNNING")
                and (not launch_type or task.get("launchType") == launch_type)
                and task["taskArn"] not in arns
            ):
                arns.append(task["taskArn"])
    return ActionResult({"taskArns": arns})


def describe_tasks(original: Any, self: EC2ContainerServiceResponse) -> ActionResult:
    truth = _reader.read()
    result = original(self)  # ClusterNotFound, "Tasks cannot be empty." as moto
    if truth is None:
        return result
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    wanted: list[str] = self._get_param("tasks", [])
    body: dict[str, Any] = result.result  # type: ignore[assignment]
    tasks: list[Any] = list(body["tasks"])
    found = {t.task_arn for t in tasks} | {t.id for t in tasks}
    for _, task in truth_tasks(truth):
        arn = task["taskArn"]
        if _name(str(task.get("clusterArn", ""))) != cluster.name or arn in found:
            continue
        if arn in wanted or _name(arn) in wanted:
            tasks.append(task)
            found |= {arn, _name(arn)}
    body["tasks"] = tasks
    body["failures"] = [
        *body.get("failures", []),
        *({"arn": ref, "reason": "MISSING"} for ref in wanted if ref not in found and _name(ref) not in found),
    ]
    return result


def _apply() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as Response

    for name, method in (
        ("describe_services", describe_services),
        ("list_tasks", list_tasks),
        ("describe_tasks", describe_tasks),
    ):
        original = getattr(Response, name)

        def patched(self: Response, _original: Any = original, _method: Any = method) -> ActionResult:
            return _method(_original, self)  # type: ignore[no-any-return]

        setattr(Response, name, patched)


PATCH = FidelityPatch(
    name="ecs-tasks-truth",
    summary="DescribeServices counts, ListTasks and DescribeTasks come from the tasks the harness's ECS runner "
    "runs (HARNESS_ECS_TRUTH); stock moto runs no service task: runningCount 0, no tasks listed.",
    apply=_apply,
)
