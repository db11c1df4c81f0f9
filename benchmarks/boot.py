"""Boot time of the local cloud, phase by phase: a cold boot, then a warm (reused) boot.

Usage: .venv/bin/python benchmarks/boot.py [--terraform-dir terraform] [--keep]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.core.config import HarnessSettings
from harness.core.progress import QuietReporter
from harness.core.reaper import processes_of
from harness.stack import Stack


def _rss_mb(run_dir: Path) -> float:
    return sum(p.memory_info().rss for p in processes_of(run_dir)) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terraform-dir", type=Path, default=Path("terraform"))
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="mailstack-boot-bench-"))
    settings = HarnessSettings(run_dir=run_dir, terraform_dir=args.terraform_dir)
    try:
        cold = QuietReporter()
        started = time.monotonic()
        Stack(settings, cold, detached=True).up()
        cold_total = time.monotonic() - started
        print(f"cold boot ({args.terraform_dir})")
        for phase, seconds in cold.timings.items():
            print(f"  {phase:<24} {seconds:7.2f} s")
        print(f"  {'total':<24} {cold_total:7.2f} s")
        print(f"  {'memory of the stack':<24} {_rss_mb(run_dir):7.0f} MB RSS")
        started = time.monotonic()
        state = Stack(settings, QuietReporter(), detached=True).up()
        print("warm boot (reused, Terraform unchanged)")
        print(f"  {'total':<24} {time.monotonic() - started:7.2f} s  (reused={state.reused})")
    finally:
        if not args.keep:
            Stack(settings).down()


if __name__ == "__main__":
    main()
