"""The one boto3 client factory of the harness: clients bound to the emulated AWS, one set of test credentials."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# The emulator takes any credentials; every harness client, the services and Terraform use these.
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class AwsClients:
    """One boto3 session per stack; `client("sqs")` returns a cached client for the emulator."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.session.Session(region_name=region, **CREDENTIALS)
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                              read_timeout=60, s3={"addressing_style": "path"})

    @functools.cache  # noqa: B019 - one client per service for the life of the stack is the point
    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)

    @functools.cache  # noqa: B019 - one factory per region for the life of the stack
    def for_region(self, region: str) -> AwsClients:
        """Clients for another region of the same emulator (cross-region ARNs: secrets, log groups, topics)."""
        return self if region == self.region else AwsClients(self.endpoint_url, region)

    def env(self) -> dict[str, str]:
        return emulator_env(self.endpoint_url, self.region)


def emulator_env(endpoint_url: str, region: str) -> dict[str, str]:
    """Environment variables that point an AWS SDK, the aws CLI or Terraform at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
