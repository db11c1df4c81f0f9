"""Terraform runs carry the run marker, so a SIGKILLed harness's apply is found and stopped by the reaper."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.reaper import processes_of
from harness.terraform.runner import TerraformRunner

FAKE_TERRAFORM = """#!/bin/sh
if [ "$1" = version ]; then echo '{"terraform_version": "1.11.0"}'; exit 0; fi
exec sleep 60
"""


def test_a_running_terraform_is_found_and_stopped_by_the_reaper(tmp_path: Path) -> None:
    binary = tmp_path / "terraform"
    binary.write_text(FAKE_TERRAFORM)
    binary.chmod(0o755)
    run_dir = tmp_path / "run"
    workdir = run_dir / "terraform" / "work"
    workdir.mkdir(parents=True)
    runner = TerraformRunner(source=tmp_path, workdir=workdir, aws_endpoint_url="http://127.0.0.1:1",
                             region="us-east-1", binary=str(binary), run_dir=run_dir)
    failures: list[BaseException] = []

    def apply() -> None:
        try:
            runner.run(["apply"])
        except HarnessError as exc:
            failures.append(exc)

    thread = threading.Thread(target=apply)
    thread.start()
    deadline = time.monotonic() + 10
    # The fake terraform is a script that execs `sleep`: wait until the exec happened (the name settles).
    while [p.name() for p in processes_of(run_dir)] != ["sleep"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.name() for p in processes_of(run_dir)] == ["sleep"]

    # The reaper runs in another process, as after a crash (here, waiting on our child would race our own wait).
    reaper = subprocess.run(
        [sys.executable, "-c", f"from harness.core.reaper import reap; from pathlib import Path; "
                               f"print(reap(Path({str(run_dir)!r}), grace=2))"],
        capture_output=True, text=True, check=True,
    )
    assert reaper.stdout.strip() == "1"
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert failures and "terraform apply failed" in str(failures[0])
    assert processes_of(run_dir) == []
