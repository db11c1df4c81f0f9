"""A Deny statement whose condition key is absent from the request does not apply.

AWS: a condition on a context key the request does not carry evaluates to false (except for the
``...IfExists`` operators and ``Null``), so the statement does not apply. Requests through an AWS SDK
use TLS, so the usual bucket-policy statement "Deny s3:* when aws:SecureTransport is false" never blocks
them.
Stock moto: skips any condition it has no value for, i.e. treats it as met. It evaluates S3 bucket
policies with no request context at all, so every conditional Deny becomes an unconditional one: each
PutObject, GetObject and DeleteObject(s) on a bucket with the platform's DenyInsecureTransport policy
(raw mail, attachments) answers 403, and SES delivery, the worker and ``force_destroy`` fail.
Allow statements keep moto's leniency (an unknown condition does not stop an Allow), which is what
tests of IAM-enforced moto expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult


def _has_absent_key(conditions: dict[str, dict[str, Any]], context: dict[str, str] | None) -> bool:
    """True when some condition tests a key the request context lacks (so, on AWS, does not match)."""
    present = {key.lower() for key in context or {}}
    for operator, tests in conditions.items():
        if operator.endswith("IfExists") or operator == "Null":
            continue
        if any(key.lower() not in present for key in tests):
            return True
    return False


def _apply() -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        conditions = self._statement.get("Condition")
        if (
            self._statement.get("Effect") == "Deny"
            and conditions
            and _has_absent_key(conditions, incoming_condition_values)
        ):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="iam-conditional-deny",
    summary="A Deny whose condition tests a key the request lacks does not apply (AWS evaluates it false); "
    "stock moto treats it as met, so the usual DenyInsecureTransport bucket policy refuses every object "
    "call (403).",
    apply=_apply,
)
