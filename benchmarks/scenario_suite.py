"""Wall time of `pytest scenarios/`: cold (no stack: the session boots one and stops it) and reused (a stack
`harness up` left running), serially and with pytest-xdist `-n 2`; then the slowest scenarios of each run.

Usage: .venv/bin/python benchmarks/scenario_suite.py [--modes cold-serial,cold-n2,reused-serial,reused-n2]
                                                      [--slowest 10] [--run-dir DIR] [-- extra pytest args]

"cold" means no stack runs (Terraform's provider cache and the venv exist, as on a CI runner that ran
bootstrap, and the snapshot store holds this Terraform's snapshot, as after a CI cache restore: the script
makes sure of that first with `harness snapshot save`, so the session restores instead of applying).
`--no-snapshot` runs the cold modes with snapshots off (a full apply). Every run uses its own run
directory, so this does not disturb a stack you have running.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("cold-serial", "cold-n2", "reused-serial", "reused-n2")
DURATION = re.compile(r"^(?P<seconds>\d+\.\d+)s (?P<when>call|setup|teardown)\s+(?P<test>\S+)")
SUMMARY = re.compile(r"^=*\s*(?P<summary>\d+ (passed|failed).*) in [\d.]+s")


@dataclass
class Run:
    mode: str
    seconds: float
    summary: str
    durations: list[tuple[float, str, str]] = field(default_factory=list)


def harness(*args: str) -> None:
    # the CLI and the pytest plugin read the same settings (HARNESS_TIME_SCALE included), so the session reuses it
    subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def run_suite(mode: str, run_dir: Path, slowest: int, extra: list[str], log: Path) -> Run:
    argv = [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider", f"--durations={slowest}",
            f"--harness-run-dir={run_dir}", *(["-n", "2"] if mode.endswith("n2") else []), *extra]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summaries = [m["summary"] for m in map(SUMMARY.search, done.stdout.splitlines()) if m]
    run = Run(mode, seconds, summaries[-1] if summaries else f"exit {done.returncode}")
    for line in done.stdout.splitlines():
        if match := DURATION.match(line.strip()):
            run.durations.append((float(match["seconds"]), match["when"], match["test"]))
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        run.summary += f" (output: {log})"
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--slowest", type=int, default=10)
    parser.add_argument("--run-dir", type=Path, default=None, help="base directory for the runs' stacks")
    parser.add_argument("--no-snapshot", action="store_true", help="cold modes apply the Terraform in full")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    base = args.run_dir or Path(tempfile.mkdtemp(prefix="mailstack-scenario-bench-"))
    runs: list[Run] = []
    reused_dir = base / "reused"
    if args.no_snapshot:
        os.environ["HARNESS_SNAPSHOTS"] = "false"
    else:
        harness("snapshot", "save")
    try:
        for mode in modes:
            if mode.startswith("cold"):
                run_dir = base / mode
                harness("down", "--run-dir", str(run_dir))  # nothing of an earlier run may be reused
            else:
                run_dir = reused_dir
                harness("up", "--run-dir", str(run_dir))
            run = run_suite(mode, run_dir, args.slowest, extra, base / f"{mode}.log")
            runs.append(run)
            print(f"{mode:<14} {run.seconds:8.1f} s   {run.summary}", flush=True)
    finally:
        harness("down", "--run-dir", str(reused_dir))
        for mode in modes:
            if mode.startswith("cold"):
                harness("down", "--run-dir", str(base / mode))
    for run in runs:
        print(f"\nslowest {args.slowest} ({run.mode}):")
        for seconds, when, test in run.durations:
            print(f"  {seconds:7.2f} s  {when:<8} {test}")


if __name__ == "__main__":
    main()
