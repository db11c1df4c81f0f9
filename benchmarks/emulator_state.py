"""Emulator state: save and restore times and file size for the platform-sized resource set.

Usage: .venv/bin/python benchmarks/emulator_state.py [--rounds 3] [--terraform terraform]

Starts a patched moto server, makes `harness.testing.aws_resources` (every service the platform's Terraform
uses), saves its state (POST /_harness/state/save), then starts new servers: one empty (the baseline) and
one with --restore, timing each until it answers. The restore's own time is read from the server's log.

With ``--terraform DIR`` the state is instead that of a real cold apply of DIR (``harness up`` with
``HARNESS_RUNTIME=false``, ~2 minutes), and after the timings a ``terraform plan`` of the applied working
directory runs against a restored server on another port: "no changes" means every resource the
Terraform manages reads back from the restored emulator as it was applied.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.emulator.moto_process import MotoServerProcess, save_state
from harness.stack import Stack
from harness.testing import aws_resources

RESTORED = re.compile(r"restored (\d+) services from .* \((\d+) bytes, ([0-9.]+) s\)")


def _started(run_dir: Path, restore: Path | None = None) -> tuple[float, float | None]:
    """Seconds until a server answers, and the restore's own seconds from its log (None without restore)."""
    server = MotoServerProcess(run_dir, restore=restore)
    try:
        ready = server.start(120)
        found = RESTORED.search(server.process.log_path.read_text())
        return ready, float(found.group(3)) if found else None
    finally:
        server.stop()


def _saves(endpoint: str, path: Path, rounds: int) -> tuple[list[tuple[float, float]], dict[str, object]]:
    saves = []
    for _ in range(rounds):
        started = time.monotonic()
        answer = save_state(endpoint, path)
        saves.append((time.monotonic() - started, float(answer["seconds"])))  # type: ignore[arg-type]
    return saves, answer


def _no_drift_after_restore(stack: Stack, path: Path, run_dir: Path) -> str | None:
    """`terraform plan` of the applied working directory against a server restored from `path`."""
    with MotoServerProcess(run_dir, restore=path) as restored:
        return stack.terraform(restored.endpoint).plan_changes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--terraform", type=Path, help="save the state of a real cold apply of this root module")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mailstack-state-bench-"))
    path = root / "emulator.state"
    stack: Stack | None = None
    try:
        if args.terraform:
            settings = HarnessSettings(run_dir=root / "stack", terraform_dir=args.terraform.resolve(), runtime=False)
            stack = Stack(settings)
            started = time.monotonic()
            booted = stack.up()
            create = time.monotonic() - started
            made_by = f"terraform apply of {args.terraform} (cold boot, no data plane)"
            saves, answer = _saves(booted.aws_endpoint_url, path, args.rounds)
        else:
            with MotoServerProcess(root / "source") as server:
                started = time.monotonic()
                aws_resources.create(AwsClients(server.endpoint, aws_resources.REGION).client)
                create = time.monotonic() - started
                made_by = "made through boto3 (harness.testing.aws_resources)"
                saves, answer = _saves(server.endpoint, path, args.rounds)
        empty = [_started(root / f"empty-{n}")[0] for n in range(args.rounds)]
        restores = [_started(root / f"restored-{n}", restore=path) for n in range(args.rounds)]

        def median(values: list[float]) -> str:
            return f"{statistics.median(values):6.2f} s"

        services: list[str] = answer["services"]  # type: ignore[assignment]
        print(f"resource set ({len(services)} services: {', '.join(services)})")
        print(f"  {made_by}: {create:.2f} s")
        print(f"  state file                        {path.stat().st_size / 2**20:6.1f} MB")
        print(f"save, median of {args.rounds}")
        print(f"  POST /_harness/state/save         {median([s[0] for s in saves])}")
        print(f"  of which the dump (server)        {median([s[1] for s in saves])}")
        print(f"start to ready, median of {args.rounds}")
        print(f"  empty server                      {median(empty)}")
        print(f"  server with --restore             {median([r[0] for r in restores])}")
        print(f"  of which the load (server log)    {median([r[1] or 0.0 for r in restores])}")
        if stack is not None:
            drift = _no_drift_after_restore(stack, path, root / "plan")
            print("terraform plan against a restored server on another port: "
                  + ("no changes" if drift is None else f"CHANGES\n{drift}"))

    finally:
        if stack is not None:
            stack.down()

if __name__ == "__main__":
    main()
