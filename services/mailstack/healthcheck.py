"""`mailstack healthcheck`: the container health check (exit 0 when /health answers 200 within 3 s)."""

from __future__ import annotations

import sys

import httpx

TIMEOUT_SECONDS = 3.0


def check_health(port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT_SECONDS) -> int:
    url = f"http://{host}:{port}/health"
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        print(f"unhealthy: {url} did not answer ({type(exc).__name__})", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"unhealthy: {url} returned HTTP {response.status_code}", file=sys.stderr)
        return 1
    return 0
