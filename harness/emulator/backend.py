"""The emulated AWS a stack talks to: a patched moto server the harness runs, or an endpoint someone else runs."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from harness.aws.route53.resolver import ensure_alb_ca
from harness.core.clients import AwsClients
from harness.core.clock import TIME_SCALE_ENV, Clock
from harness.core.errors import HarnessError
from harness.core.rundir import RunDir
from harness.emulator.moto_process import MotoServerProcess, moto_ready


class AwsBackend(Protocol):
    endpoint_url: str

    def start(self, timeout: float) -> float: ...
    def stop(self) -> None: ...
    def ready(self) -> bool: ...


class MotoBackend:
    """`python -m harness.emulator.moto_server` (moto with the harness's fidelity patches) on a local port,
    optionally starting from a saved emulator state (`restore`, written by `save_state`)."""

    def __init__(
        self,
        run_dir: RunDir,
        host: str,
        port: int,
        die_with_parent: bool = False,
        time_scale: float = 1.0,
        restore: Path | None = None,
    ) -> None:
        self.state_dir = run_dir.moto_dir
        self.server = MotoServerProcess(
            run_dir.root,
            host=host,
            port=port,
            log_path=run_dir.moto_log,
            env={
                # SNS delivers https through the ALB data plane, whose CA exists before either starts.
                **run_dir.emulator_env(ca_bundle=ensure_alb_ca(run_dir.root)),
                # The patches' timers (SNS delivery retries) run on the stack's clock.
                TIME_SCALE_ENV: str(Clock(time_scale).time_scale),
            },
            die_with_parent=die_with_parent,
            restore=restore,
        )
        self.endpoint_url = self.server.endpoint

    def start(self, timeout: float = 60.0) -> float:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.server.start(timeout)

    def ready(self) -> bool:
        return moto_ready(self.endpoint_url)

    def save_state(self, path: Path) -> dict[str, object]:
        """Write the emulator's state (every service's resources) to `path`; `restore=path` loads it."""
        return self.server.save_state(path)

    def stop(self) -> None:
        self.server.stop()


class EndpointBackend:
    """Any AWS-compatible endpoint the harness does not own (LocalStack, a shared moto server, ...)."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region

    def start(self, timeout: float = 30.0) -> float:
        try:
            self.ready()
        except Exception as exc:
            raise HarnessError(
                f"the AWS endpoint {self.endpoint_url} does not answer STS GetCallerIdentity ({exc})",
                "start it first (e.g. `localstack start`), or unset HARNESS_BACKEND to use the built-in moto",
            ) from exc
        return 0.0

    def ready(self) -> bool:
        AwsClients(self.endpoint_url, self.region).client("sts").get_caller_identity()
        return True

    def stop(self) -> None:
        """Not ours to stop."""
