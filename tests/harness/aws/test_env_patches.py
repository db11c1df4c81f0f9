"""Patches that are only a moto setting: iam-managed-policies, acm-validation-immediate."""

from __future__ import annotations

from botocore.exceptions import ClientError

from tests.harness.aws.support import Aws, stock_fails, unique

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ASSUME_ECS_TASKS = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


@stock_fails("AWS-managed policies do not exist", raises=ClientError)
def test_aws_managed_policy_can_be_attached(server: Aws) -> None:
    iam = server.client("iam")
    role = unique("exec")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_ECS_TASKS)

    iam.attach_role_policy(RoleName=role, PolicyArn=EXECUTION_POLICY)

    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [EXECUTION_POLICY]


@stock_fails("a DNS-validated certificate stays PENDING_VALIDATION for 60 s")
def test_dns_validated_certificate_is_issued_without_a_wait(server: Aws) -> None:
    acm = server.client("acm")
    arn = acm.request_certificate(DomainName=f"{unique('api')}.example.com", ValidationMethod="DNS")["CertificateArn"]

    certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]

    assert certificate["Status"] == "ISSUED"
    assert certificate["DomainValidationOptions"][0]["ValidationStatus"] == "SUCCESS"
