"""ECS services return the settings they were created with.

AWS: CreateService stores, and DescribeServices returns, ``healthCheckGracePeriodSeconds``,
``availabilityZoneRebalancing``, ``deploymentConfiguration`` (with ``deploymentCircuitBreaker``),
``enableExecuteCommand``, ``enableECSManagedTags``, ``placementConstraints``/``placementStrategy`` and
``capacityProviderStrategy``; when not given, ``deploymentConfiguration`` defaults to maximumPercent 200,
minimumHealthyPercent 100 (DAEMON: 100/0) and a disabled circuit breaker, and both ``enable*`` flags to
false.
Stock moto: CreateService drops all of these (its UpdateService keeps them), so ``aws_ecs_service`` reads
back nulls and plans to change them on every run. ``propagateTags`` already round-trips.
This patch copies every CreateService parameter that is also a field of the returned Service (per the
botocore model) onto moto's Service object, where moto's serializer finds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse


def _defaults(scheduling_strategy: str | None) -> dict[str, Any]:
    daemon = scheduling_strategy == "DAEMON"
    return {
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
            "maximumPercent": 100 if daemon else 200,
            "minimumHealthyPercent": 0 if daemon else 100,
        },
        "enableECSManagedTags": False,
        "enableExecuteCommand": False,
    }


def _apply() -> None:
    from botocore import xform_name
    from moto.core.utils import get_service_model
    from moto.ecs.responses import EC2ContainerServiceResponse

    model = get_service_model("ecs")
    created_fields = set(model.operation_model("CreateService").input_shape.members)
    kept_fields = sorted(created_fields & set(model.shape_for("Service").members))
    original_create = EC2ContainerServiceResponse.create_service

    def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
        result = original_create(self)
        service = result.result["service"]  # type: ignore[index]
        given = {**_defaults(self._get_param("schedulingStrategy")), **self._get_params()}
        for field in kept_fields:
            attribute = xform_name(field)
            if given.get(field) is not None and getattr(service, attribute, None) is None:
                setattr(service, attribute, given[field])
        return result

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="ecs-service-fields",
    summary="DescribeServices returns healthCheckGracePeriodSeconds, availabilityZoneRebalancing, "
    "deploymentConfiguration (circuit breaker), enableExecuteCommand and the other CreateService settings; "
    "stock moto drops them at create (perpetual diff).",
    apply=_apply,
)
