"""Helpers shared by the fidelity-patch tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=15, connect_timeout=5)


@dataclass(frozen=True)
class Aws:
    """boto3 clients for one moto server."""

    endpoint: str
    patched: bool

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=NO_RETRIES,
        )


def unique(prefix: str) -> str:
    """A name no other test on the same (session-wide) server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it is truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def stock_fails(
    reason: str, raises: type[BaseException] | tuple[type[BaseException], ...] | None = None
) -> Callable[[Callable[..., Any]], Any]:
    """Run the test against both servers; against stock moto it must fail (strict xfail) for `reason`."""

    def mark(test: Callable[..., Any]) -> Any:
        stock = pytest.param(
            "stock", marks=pytest.mark.xfail(strict=True, reason=f"stock moto: {reason}", raises=raises)
        )
        return pytest.mark.parametrize("server", ["patched", stock], indirect=True)(test)

    return mark
