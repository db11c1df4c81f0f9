"""Boot time of the local cloud, side by side in one run, with each figure's ratio to a plain apply.

    .venv/bin/python benchmarks/boot.py [--terraform-dir terraform] [--phases]

1. **plain apply**: `terraform init` + `terraform apply` of the root module against a fresh emulator (the
   patched moto server, no harness around it): what any emulator-based setup pays at least;
2. **cold**: `harness up` with an empty snapshot store (it boots, applies, runs the data plane, saves both
   snapshot layers);
3. **restore**: `harness up` in a new run directory over that store: the exact snapshot, no apply;
4. **restore + 1 change**: the same with one alarm threshold changed in a copy of the tree (the nearest
   snapshot restored, one resource applied), or, in a tree without a literal threshold, one resource added;
5. **warm reuse**: `harness up` again where a stack runs and nothing changed.

Every `harness up` is the CLI in its own process (what a user or a CI step runs), timed to "local cloud is
up" (the data plane running). Runs use their own run directories and a scratch store under a temp dir,
and are stopped at the end. `--phases` also prints each boot's phases as `harness up` reported them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from harness.emulator.moto_process import MotoServerProcess  # noqa: E402
from harness.terraform.runner import TerraformRunner  # noqa: E402

THRESHOLD = re.compile(r"(\bthreshold\s*=\s*)(\d+(?:\.\d+)?)")


def plain_apply(source: Path, scratch: Path) -> float:
    run_dir = scratch / "plain"
    run_dir.mkdir()
    with MotoServerProcess(run_dir) as server:
        runner = TerraformRunner(source=source, workdir=run_dir / "terraform" / "work",
                                 aws_endpoint_url=server.endpoint, region="us-east-1",
                                 log_path=run_dir / "terraform.log", run_dir=run_dir)
        started = time.monotonic()
        runner.prepare()
        runner.init()
        runner.apply()
        return time.monotonic() - started


def harness_up(run_dir: Path, terraform_dir: Path, store: Path) -> tuple[float, dict[str, float], dict[str, object]]:
    env = {**os.environ, "HARNESS_RUN_DIR": str(run_dir), "HARNESS_TERRAFORM_DIR": str(terraform_dir),
           "HARNESS_SNAPSHOT_DIR": str(store), "HARNESS_PROJECT_DIR": str(REPO_ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "up"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"harness up failed in {run_dir}:\n{done.stderr[-3000:]}")
    state = json.loads((run_dir / "stack.json").read_text())
    return seconds, dict(state.get("timings") or {}), dict(state.get("snapshot") or {})


def changed_copy(source: Path, target: Path) -> str:
    """A copy of `source` with one resource changed: the first literal alarm threshold, else one added."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".terraform*", "terraform.tfstate*"))
    for path in sorted(target.rglob("*.tf")):
        text = path.read_text()
        if match := THRESHOLD.search(text):
            value = float(match[2]) + 1
            shown = str(int(value)) if value.is_integer() else str(value)
            path.write_text(text[: match.start(2)] + shown + text[match.end(2):])
            return f"threshold {match[2]} -> {shown} in {path.relative_to(target)}"
    (target / "zz_benchmark_change.tf").write_text(
        'resource "aws_ssm_parameter" "benchmark_change" {\n  name  = "/benchmark/change"\n'
        '  type  = "String"\n  value = "one more resource"\n}\n')
    return "one aws_ssm_parameter added"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terraform-dir", type=Path, default=REPO_ROOT / "terraform")
    parser.add_argument("--phases", action="store_true", help="print each boot's phases too")
    args = parser.parse_args()
    source = args.terraform_dir.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="mailstack-boot-bench-"))
    store = scratch / "store"
    runs: list[Path] = []
    rows: list[tuple[str, float, dict[str, float], str]] = []
    try:
        plain = plain_apply(source, scratch)
        rows.append(("plain apply (no harness)", plain, {}, "terraform init + apply"))
        print(f"measured plain apply: {plain:.1f} s", flush=True)
        for name, run, tree in (("harness cold, no snapshot", "cold", source),
                                ("harness restore (exact)", "restore", source)):
            runs.append(scratch / run)
            seconds, phases, snapshot = harness_up(scratch / run, tree, store)
            rows.append((name, seconds, phases, f"snapshot {snapshot}" if snapshot else "applied"))
            print(f"measured {name}: {seconds:.1f} s", flush=True)
        what = changed_copy(source, scratch / "changed-tf")
        runs.append(scratch / "changed")
        seconds, phases, snapshot = harness_up(scratch / "changed", scratch / "changed-tf", store)
        rows.append(("harness restore + 1 change", seconds, phases,
                     f"{what}; {snapshot.get('changed_files')} file(s) differ from the nearest snapshot"))
        seconds, phases, _ = harness_up(scratch / "restore", source, store)
        rows.append(("harness warm reuse", seconds, {}, "stack running, nothing changed"))
    finally:
        for run in runs:
            subprocess.run([sys.executable, "-m", "harness.cli", "down", "--run-dir", str(run)], cwd=REPO_ROOT,
                           capture_output=True)
    size = sum(path.stat().st_size for path in store.rglob("*") if path.is_file())
    print(f"\nboot of {source} ({os.cpu_count()} CPUs); snapshot store {size / 1e6:.1f} MB\n")
    print(f"{'':<28} {'seconds':>8} {'x plain apply':>14}  notes")
    for name, seconds, phases, note in rows:
        print(f"{name:<28} {seconds:8.1f} {seconds / plain:14.2f}  {note}")
        if args.phases:
            for phase, took in phases.items():
                print(f"{'':<32}{phase:<44} {took:6.2f} s")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
