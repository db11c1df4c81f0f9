"""boto3 clients. Endpoints, region and credentials come from boto3's standard settings
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, AWS_REGION, the credentials chain)."""

from __future__ import annotations

import os

import boto3
from botocore.client import BaseClient
from botocore.config import Config


def _uses_custom_s3_endpoint() -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))


def _config(max_pool_connections: int = 10, **extra: object) -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=max_pool_connections,
        **extra,
    )


def s3_client(region: str, max_pool_connections: int = 10) -> BaseClient:
    """An S3 client. Emulators behind a custom endpoint get path-style addressing
    (bucket names as virtual hosts do not resolve on 127.0.0.1 or localhost)."""
    extra: dict[str, object] = {}
    if _uses_custom_s3_endpoint():
        extra["s3"] = {"addressing_style": "path"}
    return boto3.session.Session(region_name=region).client("s3", config=_config(max_pool_connections, **extra))


def sqs_client(region: str, long_poll_seconds: int = 20) -> BaseClient:
    """An SQS client whose read timeout outlasts a long poll."""
    config = _config().merge(Config(read_timeout=long_poll_seconds + 15))
    return boto3.session.Session(region_name=region).client("sqs", config=config)
