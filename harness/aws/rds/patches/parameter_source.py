"""RDS parameters a user set are reported with ``Source=user``, and Source filters and resets work.

AWS: every parameter changed by ModifyDB(Cluster)ParameterGroup is returned by
DescribeDB(Cluster)Parameters with ``Source: user``; ``Source=user`` returns only those;
ResetDB(Cluster)ParameterGroup returns named parameters (or all) to the engine default.
Stock moto: returns the modified parameters without ``Source`` and ignores the ``Source`` filter. The AWS
provider skips every parameter without a Source when it reads ``aws_db_parameter_group``, so each plan
wants to set them again (perpetual diff). Reset is not implemented (HTTP 500 when a parameter is removed
from the configuration).
moto has no engine defaults, so ``Source=system``/``engine-default`` return nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

USER = "user"


def _mark_user(
    update: Callable[[Any, Iterable[dict[str, Any]]], None],
) -> Callable[[Any, Iterable[dict[str, Any]]], None]:
    def wrapped(group: Any, new_parameters: Iterable[dict[str, Any]]) -> None:
        new_parameters = list(new_parameters)
        update(group, new_parameters)
        for parameter in new_parameters:
            group.parameters[parameter["ParameterName"]]["Source"] = USER

    return wrapped


def _filter_by_source(describe: Callable[[RDSResponse], ActionResult]) -> Callable[[RDSResponse], ActionResult]:
    def wrapped(self: RDSResponse) -> ActionResult:
        result = describe(self)
        source = self.params.get("Source")
        if source:
            body: dict[str, Any] = result.result  # type: ignore[assignment]
            body["Parameters"] = [p for p in body["Parameters"] if p.get("Source", USER) == source]
        return result

    return wrapped


def _reset(groups: str, name_parameter: str, not_found: type[Exception]) -> Callable[[RDSResponse], ActionResult]:
    """A Reset(DB|DBCluster)ParameterGroup response: drop the named parameters (or all) from the group."""

    def reset(self: RDSResponse) -> ActionResult:
        from moto.core.responses import ActionResult

        name = self.params.get(name_parameter)
        group = getattr(self.backend, groups).get(name)
        if group is None:
            raise not_found(name)
        if self.params.get("ResetAllParameters"):
            group.parameters.clear()
        for parameter in self.params.get("Parameters", []):
            group.parameters.pop(parameter["ParameterName"], None)
        return ActionResult({name_parameter: name})

    return reset


def _apply() -> None:
    from moto.rds.exceptions import DBClusterParameterGroupNotFoundError, DBParameterGroupNotFoundError
    from moto.rds.models import DBClusterParameterGroup, DBParameterGroup
    from moto.rds.responses import RDSResponse

    DBParameterGroup.update_parameters = _mark_user(DBParameterGroup.update_parameters)  # type: ignore[method-assign]
    DBClusterParameterGroup.update_cluster_parameters = _mark_user(  # type: ignore[method-assign]
        DBClusterParameterGroup.update_cluster_parameters
    )
    RDSResponse.describe_db_parameters = _filter_by_source(RDSResponse.describe_db_parameters)  # type: ignore[method-assign]
    RDSResponse.describe_db_cluster_parameters = _filter_by_source(  # type: ignore[method-assign]
        RDSResponse.describe_db_cluster_parameters
    )
    RDSResponse.reset_db_parameter_group = _reset(  # type: ignore[attr-defined]
        "db_parameter_groups", "DBParameterGroupName", DBParameterGroupNotFoundError
    )
    RDSResponse.reset_db_cluster_parameter_group = _reset(  # type: ignore[attr-defined]
        "db_cluster_parameter_groups", "DBClusterParameterGroupName", DBClusterParameterGroupNotFoundError
    )


PATCH = FidelityPatch(
    name="rds-parameter-source",
    summary="DescribeDBParameters reports modified parameters with Source=user and honours the Source "
    "filter; Reset(DB|DBCluster)ParameterGroup works. Stock moto omits Source (perpetual diff on "
    "aws_db_parameter_group), ignores the filter and answers 500 to a reset.",
    apply=_apply,
)
