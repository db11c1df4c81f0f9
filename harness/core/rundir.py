"""Files the runtime daemon publishes (light module: the emulator side imports it too)."""

from __future__ import annotations

from pathlib import Path

RUNTIME_FILE = "runtime.json"


def snapshot_paths(run_dir: Path) -> dict[str, Path]:
    """Where the daemon writes the data plane's truth, which the emulator's patches read."""
    return {
        "HARNESS_ALB_SNAPSHOT": run_dir / "snapshots" / "alb.json",
        "HARNESS_ECS_SNAPSHOT": run_dir / "snapshots" / "ecs.json",
        "HARNESS_DNS_SNAPSHOT": run_dir / "snapshots" / "dns.json",
    }
