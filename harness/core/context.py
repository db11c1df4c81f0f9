"""What every data-plane component is handed: the emulated AWS's clients, the clock, the run directory, the CA.

    context = RuntimeContext.for_emulator("http://127.0.0.1:5000", "us-east-1", run_dir, time_scale=5)
    AlbDataPlane(context); SesInbound(context); EcsRunner(context, EcsOptions(...)); CloudWatchEmulation(context)

Components take the context instead of endpoint URLs, regions, time scales and clients separately, so
they all talk to the same emulator with the same credentials, run on the same clock and trust the same CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.core.ca import LocalCA
from harness.core.clients import AwsClients
from harness.core.clock import Clock
from harness.core.rundir import RunDir


@dataclass(frozen=True)
class RuntimeContext:
    clients: AwsClients
    clock: Clock
    run_dir: Path
    ca: LocalCA

    @classmethod
    def for_emulator(
        cls, endpoint_url: str, region: str, run_dir: Path, time_scale: float = 1.0, ca: LocalCA | None = None
    ) -> RuntimeContext:
        run_dir = Path(run_dir)
        ca = ca or LocalCA(RunDir(run_dir).alb_tls_dir)
        return cls(AwsClients(endpoint_url, region), Clock(time_scale), run_dir, ca)

    @property
    def endpoint_url(self) -> str:
        return self.clients.endpoint_url

    @property
    def region(self) -> str:
        return self.clients.region

    @property
    def paths(self) -> RunDir:
        """The run directory's named paths (each component's own directory among them)."""
        return RunDir(self.run_dir)
