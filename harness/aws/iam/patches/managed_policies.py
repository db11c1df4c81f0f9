"""AWS-managed IAM policies exist in every account.

AWS: ``arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`` and the other
AWS-managed policies can be read (GetPolicy) and attached in any account.
Stock moto: it loads none unless ``MOTO_IAM_LOAD_MANAGED_POLICIES=true``, so attaching one fails with
NoSuchEntity. This patch is only that setting (moto reads it when it creates an account's IAM backend).
"""

from __future__ import annotations

from harness.aws.fidelity import FidelityPatch

ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


def _apply() -> None:
    """Nothing to patch: the env is set by apply_all before moto builds any IAM backend."""


PATCH = FidelityPatch(
    name="iam-managed-policies",
    summary="AWS-managed IAM policies (arn:aws:iam::aws:policy/...) exist; stock moto has none "
    "unless MOTO_IAM_LOAD_MANAGED_POLICIES=true.",
    apply=_apply,
    env=ENV,
)
