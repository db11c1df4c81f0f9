"""What can be checked before a boot is checked before anything starts: no emulator, no PostgreSQL, no apply."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings
from harness.core.errors import HarnessError, MissingBinaryError, PortInUseError
from harness.core.progress import QuietReporter
from harness.core.reaper import processes_of
from harness.stack import Stack

TINY_TF = Path(__file__).parent / "data" / "tiny_tf"


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    run = tmp_path / "run"
    yield run
    Stack(HarnessSettings(project_dir=tmp_path, run_dir=run)).down()


def _boot(run_dir: Path, **settings: object) -> tuple[Stack, QuietReporter]:
    values: dict[str, object] = {"project_dir": run_dir.parent, "run_dir": run_dir, "terraform_dir": TINY_TF,
                                 **settings}
    reporter = QuietReporter()
    stack = Stack(HarnessSettings(**values), reporter, detached=False)  # type: ignore[arg-type]
    return stack, reporter


def _nothing_started(run_dir: Path, reporter: QuietReporter) -> None:
    assert "emulated AWS ready" not in reporter.timings and "postgres ready" not in reporter.timings
    assert processes_of(run_dir) == []
    assert not (run_dir / "moto").exists()


def test_missing_terraform_is_found_before_the_emulator_starts(run_dir: Path) -> None:
    stack, reporter = _boot(run_dir, terraform="terraform-that-does-not-exist")
    with pytest.raises(MissingBinaryError, match="terraform not found"):
        stack.up()
    _nothing_started(run_dir, reporter)


def test_missing_postgres_is_found_before_the_emulator_starts(run_dir: Path, tmp_path: Path) -> None:
    stack, reporter = _boot(run_dir, postgres_bin_dir=tmp_path / "no-postgres")
    with pytest.raises(MissingBinaryError, match="does not contain initdb"):
        stack.up()
    _nothing_started(run_dir, reporter)


def test_missing_var_file_is_named(run_dir: Path) -> None:
    stack, reporter = _boot(run_dir, terraform_var_files=[Path("missing.tfvars")])
    with pytest.raises(HarnessError) as caught:
        stack.up()
    assert "missing.tfvars does not exist" in caught.value.problem
    assert "HARNESS_TERRAFORM_VAR_FILES" in (caught.value.fix or "")
    _nothing_started(run_dir, reporter)


def test_missing_terraform_dir_is_named(run_dir: Path, tmp_path: Path) -> None:
    stack, reporter = _boot(run_dir, terraform_dir=tmp_path / "nowhere")
    with pytest.raises(HarnessError) as caught:
        stack.up()
    assert "no Terraform root module" in caught.value.problem
    _nothing_started(run_dir, reporter)


def test_endpoint_backend_without_endpoint(run_dir: Path) -> None:
    stack, reporter = _boot(run_dir, backend="endpoint")
    with pytest.raises(HarnessError, match="needs an endpoint"):
        stack.up()
    _nothing_started(run_dir, reporter)


def test_a_taken_smtp_port_is_found_before_the_apply(run_dir: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack, reporter = _boot(run_dir, smtp_port=port)
        with pytest.raises(PortInUseError) as caught:
            stack.up()
    assert str(port) in caught.value.problem and "HARNESS_SMTP_PORT" in caught.value.problem
    _nothing_started(run_dir, reporter)
    assert "terraform apply" not in reporter.timings
