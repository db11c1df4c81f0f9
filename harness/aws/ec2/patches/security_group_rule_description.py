"""Security group rules that reference another group or a prefix list keep their description.

AWS: DescribeSecurityGroupRules (and the rules returned by AuthorizeSecurityGroupIngress/Egress) carry the
``Description`` given for the rule, whatever its source: CIDR, referenced security group or prefix list.
Stock moto: returns ``Description`` only for CIDR rules. ``aws_vpc_security_group_ingress_rule`` /
``aws_vpc_security_group_egress_rule`` with ``referenced_security_group_id`` (ALB → tasks, tasks → DB)
therefore read back no description and plan to add it on every run (perpetual diff).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.ec2.models.security_groups import SecurityGroupRule

PREFIX_LIST_DESCRIPTION = "_harness_prefix_list_description"


def _apply() -> None:
    from moto.ec2.models.security_groups import SecurityGroupRule

    original_init = SecurityGroupRule.__init__

    def __init__(self: SecurityGroupRule, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = kwargs.get("prefix_list_id", args[7] if len(args) > 7 else None)
        self.__dict__[PREFIX_LIST_DESCRIPTION] = (prefix_list or {}).get("Description")

    def description(self: SecurityGroupRule) -> str | None:
        # ModifySecurityGroupRules writes a new description into ip_range, whatever the rule's source.
        return (
            self.ip_range.get("Description")
            or self.source_group.get("Description")
            or self.__dict__.get(PREFIX_LIST_DESCRIPTION)
        )

    SecurityGroupRule.__init__ = __init__  # type: ignore[method-assign]
    SecurityGroupRule.description = property(description)  # type: ignore[method-assign,assignment]


PATCH = FidelityPatch(
    name="ec2-security-group-rule-description",
    summary="DescribeSecurityGroupRules returns the Description of rules that reference a security group "
    "or prefix list; stock moto only returns it for CIDR rules (perpetual diff on "
    "aws_vpc_security_group_*_rule).",
    apply=_apply,
)
