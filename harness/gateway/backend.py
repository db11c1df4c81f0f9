"""A stack's AWS backend behind the gateway: the same `AwsBackend` shape (start, stop, ready, endpoint_url),
with `endpoint_url` the gateway's, so whatever the stack hands the endpoint to (Terraform, tasks, the
harness's clients) goes through it. `emulator_url` stays the emulator's own address (state saves, the
emulator's control paths)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.gateway.process import GatewayProcess, gateway_ready


class Backend(Protocol):
    endpoint_url: str

    def start(self, timeout: float) -> float: ...
    def stop(self) -> None: ...
    def ready(self) -> bool: ...


class GatewayBackend:
    def __init__(
        self,
        inner: Backend,
        run_dir: Path,
        *,
        routes: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        seed: int = 0,
        die_with_parent: bool = False,
    ) -> None:
        self.inner = inner
        self.emulator_url = inner.endpoint_url
        self.gateway = GatewayProcess(run_dir, inner.endpoint_url, routes=routes, host=host, port=port, seed=seed,
                                      log_path=run_dir / "gateway" / "calls.jsonl", die_with_parent=die_with_parent)
        self.endpoint_url = self.gateway.endpoint

    def start(self, timeout: float = 60.0) -> float:
        """The emulator first, then the gateway in front of it; the seconds both took."""
        seconds = self.inner.start(timeout)
        try:
            return seconds + self.gateway.start(timeout=30.0)
        except BaseException:
            self.inner.stop()
            raise

    def ready(self) -> bool:
        return gateway_ready(self.endpoint_url) and self.inner.ready()

    def stop(self) -> None:
        self.gateway.stop()
        self.inner.stop()

    def __getattr__(self, name: str) -> Any:  # save_state and the like go to the emulator itself
        return getattr(self.inner, name)
