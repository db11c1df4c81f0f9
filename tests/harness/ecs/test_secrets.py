"""valueFrom forms of ECS secrets."""

from __future__ import annotations

import pytest

from harness.aws.ecs.secrets import SecretRef, SecretResolutionError, parse_value_from

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-abc-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ("arn:aws:ssm:us-east-1:123456789012:parameter/mailstack/dev/db/host",
         SecretRef("ssm", "arn:aws:ssm:us-east-1:123456789012:parameter/mailstack/dev/db/host", "us-east-1")),
        ("/mailstack/dev/db/host", SecretRef("ssm", "/mailstack/dev/db/host")),
        ("plain-name", SecretRef("ssm", "plain-name")),
        (SECRET, SecretRef("secretsmanager", SECRET, "us-east-1")),
        (f"{SECRET}:password::", SecretRef("secretsmanager", SECRET, "us-east-1", json_key="password")),
        (f"{SECRET}:username:AWSPREVIOUS:",
         SecretRef("secretsmanager", SECRET, "us-east-1", "username", "AWSPREVIOUS")),
        (f"{SECRET}::AWSCURRENT:v-1", SecretRef("secretsmanager", SECRET, "us-east-1", "", "AWSCURRENT", "v-1")),
        ("arn:aws-cn:secretsmanager:cn-north-1:1:secret:x",
         SecretRef("secretsmanager", "arn:aws-cn:secretsmanager:cn-north-1:1:secret:x", "cn-north-1")),
    ],
)
def test_parse_value_from(value_from, expected):
    assert parse_value_from(value_from) == expected


@pytest.mark.parametrize(
    "value_from",
    ["", "arn:aws:s3:::bucket/key", "arn:aws:ssm:us-east-1", f"{SECRET}:a:b:c:d"],
)
def test_invalid_value_from(value_from):
    with pytest.raises(SecretResolutionError):
        parse_value_from(value_from)
