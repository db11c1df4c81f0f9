"""Emulator state: save and restore times and file size for the platform-sized resource set.

Usage: .venv/bin/python benchmarks/emulator_state.py [--rounds 3]

Starts a patched moto server, makes `harness.testing.aws_resources` (every service the platform's Terraform
uses), saves its state (POST /_harness/state/save), then starts new servers: one empty (the baseline) and
one with --restore, timing each until it answers. The restore's own time is read from the server's log.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from harness.core.clients import AwsClients
from harness.emulator.moto_process import MotoServerProcess
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mailstack-state-bench-"))
    path = root / "emulator.state"
    with MotoServerProcess(root / "source") as server:
        aws = AwsClients(server.endpoint, aws_resources.REGION)
        started = time.monotonic()
        aws_resources.create(aws.client)
        create = time.monotonic() - started
        saves = []
        for _ in range(args.rounds):
            started = time.monotonic()
            answer = server.save_state(path)
            saves.append((time.monotonic() - started, float(answer["seconds"])))  # type: ignore[arg-type]
    empty = [_started(root / f"empty-{n}")[0] for n in range(args.rounds)]
    restores = [_started(root / f"restored-{n}", restore=path) for n in range(args.rounds)]

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):6.2f} s"

    print(f"resource set ({len(answer['services'])} services: {', '.join(answer['services'])})")  # type: ignore[arg-type]
    print(f"  made through boto3                {create:6.2f} s")
    print(f"  state file                        {path.stat().st_size / 2**20:6.1f} MB")
    print(f"save, median of {args.rounds}")
    print(f"  POST /_harness/state/save         {median([s[0] for s in saves])}")
    print(f"  of which the dump (server)        {median([s[1] for s in saves])}")
    print(f"start to ready, median of {args.rounds}")
    print(f"  empty server                      {median(empty)}")
    print(f"  server with --restore             {median([r[0] for r in restores])}")
    print(f"  of which the load (server log)    {median([r[1] or 0.0 for r in restores])}")


if __name__ == "__main__":
    main()
