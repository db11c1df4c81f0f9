"""`python -m harness.gateway` as a child process tagged with the run marker (the reaper finds it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.core.process import ManagedProcess
from harness.gateway import CONTROL_PREFIX, READY_PATH


def gateway_ready(endpoint: str) -> bool:
    try:
        return httpx.get(endpoint + READY_PATH, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class GatewayProcess:
    """A gateway in front of `backend` (and `routes`), logging calls to `log_path`: start(), stop(), endpoint,
    and the control API as methods (add_fault, clear_faults, calls). Usable as a context manager."""

    def __init__(
        self,
        run_dir: Path,
        backend: str,
        *,
        routes: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        seed: int = 0,
        die_with_parent: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.call_log = log_path or run_dir / f"gateway-{self.port}.calls.jsonl"
        argv = [sys.executable, "-m", "harness.gateway", "--host", host, "--port", str(self.port),
                "--backend", backend, "--log", str(self.call_log), "--seed", str(seed)]
        for service, url in (routes or {}).items():
            argv += ["--route", f"{service}={url}"]
        self.process = ManagedProcess(
            name="AWS gateway", argv=argv, run_dir=run_dir, log_path=run_dir / f"gateway-{self.port}.log",
            env=dict(env or {}), die_with_parent=die_with_parent,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> float:
        self.process.start()
        try:
            return self.process.wait_ready(lambda: gateway_ready(self.endpoint), timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        self.process.stop(grace)

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.endpoint + CONTROL_PREFIX + path, timeout=10, **kwargs)
        if response.status_code >= 400:
            raise HarnessError(f"gateway {method} {path}: {response.status_code} {response.text}",
                               f"see {self.process.log_path}")
        return response.json()

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add one fault rule (see `faults.FaultRule`); returns it as the gateway holds it (with its id)."""
        answer: dict[str, Any] = self.control("POST", "/faults", json=rule)["rules"][0]
        return answer

    def clear_faults(self, seed: int | None = None) -> None:
        self.control("DELETE", "/faults", params={"seed": seed} if seed is not None else None)

    def calls(self, since: int = 0, **filters: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self.control("GET", "/calls", params={"since": since, **filters})
        return calls

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
