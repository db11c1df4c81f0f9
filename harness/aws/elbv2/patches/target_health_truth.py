"""ELBv2 target health is what the ALB data plane measured, and targets are keyed by (Id, Port).

AWS: ``DescribeTargetHealth`` reports each target's health-check state (``initial`` with
``Elb.RegistrationInProgress``/``Elb.InitialHealthChecking``, ``healthy``, ``unhealthy`` with
``Target.FailedHealthChecks``/``Target.Timeout``/``Target.ResponseCodeMismatch``, ``unused``,
``draining`` with ``Target.DeregistrationInProgress``); a deregistered target stays listed as draining
for the deregistration delay. A target is identified by (Id, Port): the same IP on two ports is two
targets.
Stock moto: every registered target is ``healthy`` at once, a deregistered one vanishes at once, and
targets are keyed by Id alone, so registering ``127.0.0.1:8001`` and ``127.0.0.1:8002`` in one target
group keeps only the second.

This patch

* keys ``FakeTargetGroup``'s registered/deregistered/terminated targets by (Id, Port) (Port defaults to
  the target group's, as in AWS), replacing its ``register``, ``deregister``,
  ``deregister_terminated_instances`` and ``health_for``;
* when ``HARNESS_ALB_TRUTH`` names an existing file (``AlbDataPlane.snapshot()`` written by the runtime
  daemon as ``harness.core.truth.AlbTruth``), overlays it on ``DescribeTargetHealth``:
  a registered target the data plane reports gets its state, reason and description; a registered
  target it has not seen yet (or still reports draining: re-registered since) is
  ``initial``/``Elb.RegistrationInProgress``; a target moto no longer has registered but the data plane
  reports draining is listed as draining. Without the file, moto's answers stay (all ``healthy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch
from harness.core.rundir import ALB_TRUTH_ENV
from harness.core.truth import AlbTruth, TargetHealthRow, TruthReader

if TYPE_CHECKING:
    from moto.ec2.models import EC2Backend
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

TargetKey = tuple[str, int | str | None]

DRAINING = "draining"
REGISTRATION_IN_PROGRESS = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
NOT_REGISTERED = ("Target.NotRegistered", "Target is not registered to the target group")
DEREGISTRATION_IN_PROGRESS = ("Target.DeregistrationInProgress", "Target deregistration is in progress")
STOPPED = ("Target.InvalidState", "Target is in the stopped state")

_reader = TruthReader(ALB_TRUTH_ENV, AlbTruth)


def _port(value: Any) -> int | str | None:
    """Ports arrive as int or str (query string, model default); compare them as int where possible."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _key(group: FakeTargetGroup, target: dict[str, Any]) -> TargetKey:
    port = target.get("Port")
    return (str(target["Id"]), _port(port if port is not None else group.port))


def _status(
    group: FakeTargetGroup, target_id: str, port: Any, state: str, reason: Any = None, description: Any = None
) -> FakeHealthStatus:
    from moto.elbv2.models import FakeHealthStatus

    return FakeHealthStatus(target_id, port, group.health_check_port, state, reason or None, description or None)


# ------------------------------------------------------------------ (Id, Port) keying


def register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    from moto.elbv2.exceptions import TargetNotRunning

    for target in targets:
        instance = self.ec2_backend.get_instance_by_id(target["Id"])
        if instance is not None and instance.state != "running":
            raise TargetNotRunning(instance_id=target["Id"])
        key = _key(self, target)
        self.targets[key] = {"Id": target["Id"], "Port": target.get("Port", self.port)}  # type: ignore[index]
        self.deregistered_targets.pop(key, None)  # type: ignore[call-overload]
        self.terminated_targets.pop(key, None)  # type: ignore[call-overload]


def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    from moto.elbv2.exceptions import InvalidTargetError

    for target in targets:
        key = _key(self, target)
        registered = self.targets.pop(key, None)  # type: ignore[call-overload]
        if not registered:
            raise InvalidTargetError()
        self.deregistered_targets[key] = registered  # type: ignore[index]


def deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
    for key in [k for k in self.targets if k[0] in instance_ids]:
        self.terminated_targets[key] = self.targets.pop(key)


def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: EC2Backend) -> FakeHealthStatus:
    """moto's health_for, looking targets up by (Id, Port)."""
    key = _key(self, target)
    registered = self.targets.get(key)  # type: ignore[call-overload]
    if registered is None:
        target_id, port = target["Id"], target.get("Port", self.port)
        if key in self.deregistered_targets:
            return _status(self, target_id, port, "unused", *NOT_REGISTERED)
        if key in self.terminated_targets:
            return _status(self, target_id, port, DRAINING, *DEREGISTRATION_IN_PROGRESS)
        if str(target_id).startswith("i-"):  # EC2 instance ID
            return _status(self, target_id, target.get("Port", 80), "unused", *NOT_REGISTERED)
        return _status(self, target_id, port, "unavailable", "Target.NotRegistered", "Target is not registered")
    if str(registered["Id"]).startswith("i-"):
        instance = ec2_backend.get_instance_by_id(registered["Id"])
        if instance and instance.state == "stopped":
            return _status(self, registered["Id"], registered["Port"], "unused", *STOPPED)
    return _status(self, registered["Id"], registered["Port"], "healthy")


# ------------------------------------------------------------------ the data plane's truth


def _observed(target_group_arn: str) -> dict[TargetKey, TargetHealthRow] | None:
    """(Id, Port) -> the data plane's row for the group; None when there is no truth file at all."""
    truth = _reader.read()
    if truth is None:
        return None
    return {(row.id, row.port): row for row in truth.rows(target_group_arn) if row.state}


def _apply() -> None:
    from moto.elbv2.models import ELBv2Backend, FakeTargetGroup

    FakeTargetGroup.register = register  # type: ignore[method-assign]
    FakeTargetGroup.deregister = deregister  # type: ignore[method-assign]
    FakeTargetGroup.deregister_terminated_instances = deregister_terminated_instances  # type: ignore[method-assign]
    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]
    original_describe = ELBv2Backend.describe_target_health

    def describe_target_health(
        self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> list[FakeHealthStatus]:
        statuses = original_describe(self, target_group_arn, targets)  # raises TargetGroupNotFound
        observed = _observed(target_group_arn)
        if observed is None:
            return statuses
        group = self.target_groups[target_group_arn]
        registered = set(group.targets)
        answered: list[FakeHealthStatus] = []
        for status in statuses:
            key = (str(status.instance_id), _port(status.port))
            row = observed.get(key)
            if key in registered and status.status == "healthy":  # moto's "registered and fine"
                if row is None or row.state == DRAINING:
                    status = _status(group, status.instance_id, status.port, *REGISTRATION_IN_PROGRESS)
                else:
                    status = _status(group, status.instance_id, status.port, row.state, row.reason, row.description)
            elif key not in registered and row is not None and row.state == DRAINING:
                status = _status(group, status.instance_id, status.port, DRAINING, row.reason, row.description)
            answered.append(status)
        if not targets:  # the whole group: AWS still lists the targets that are draining
            for (target_id, port), row in observed.items():
                if (target_id, port) not in registered and row.state == DRAINING:
                    answered.append(_status(group, target_id, port, DRAINING, row.reason, row.description))
        return answered

    ELBv2Backend.describe_target_health = describe_target_health  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="elbv2-target-health-truth",
    summary="DescribeTargetHealth reports the ALB data plane's health checks (initial, unhealthy, draining "
    "after deregistration) and targets are keyed by (Id, Port); stock moto calls every target healthy, "
    "forgets deregistered ones at once and keeps one target per Id.",
    apply=_apply,
)
