"""Bad input gets a clear error that names the problem and the fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.core.errors import HarnessError, MissingBinaryError, PortInUseError
from harness.core.ports import ensure_port_free
from harness.postgres.binaries import find_postgres_bin_dir
from harness.terraform.override import scan_root_module
from harness.terraform.runner import TerraformRunner, find_terraform

DATA = Path(__file__).parent / "data"


def test_missing_terraform_names_the_fix() -> None:
    with pytest.raises(MissingBinaryError) as caught:
        find_terraform("terraform-that-does-not-exist")
    assert "terraform not found" in caught.value.problem
    assert "HARNESS_TERRAFORM" in (caught.value.fix or "")


def test_missing_postgres_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("harness.postgres.binaries.Path.glob", lambda self, pattern: iter(()))
    monkeypatch.setattr("harness.postgres.binaries._has_all", lambda directory: False)
    with pytest.raises(MissingBinaryError) as caught:
        find_postgres_bin_dir()
    assert "PostgreSQL server binaries" in caught.value.problem
    assert "HARNESS_POSTGRES_BIN_DIR" in (caught.value.fix or "")


def test_configured_postgres_dir_without_binaries(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaryError, match="does not contain initdb"):
        find_postgres_bin_dir(tmp_path)


def test_port_in_use_names_the_port_and_the_fix() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            ensure_port_free(port, what="the ALB listener")
    assert str(port) in caught.value.problem and "the ALB listener" in caught.value.problem
    assert caught.value.fix


def test_unparseable_terraform_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n')
    with pytest.raises(HarnessError) as caught:
        scan_root_module(tmp_path)
    assert "main.tf" in caught.value.problem


def test_missing_root_module_names_the_setting(tmp_path: Path) -> None:
    runner = TerraformRunner(source=tmp_path / "nowhere", workdir=tmp_path / "work",
                             aws_endpoint_url="http://127.0.0.1:1", region="us-east-1")
    with pytest.raises(HarnessError) as caught:
        runner.prepare()
    assert "HARNESS_TERRAFORM_DIR" in (caught.value.fix or "")


@pytest.mark.slow
def test_invalid_terraform_reports_the_diagnostic(tmp_path: Path) -> None:
    runner = TerraformRunner(source=DATA / "broken_tf", workdir=tmp_path / "tf" / "work",
                             aws_endpoint_url="http://127.0.0.1:1", region="us-east-1",
                             log_path=tmp_path / "tf.log")
    runner.prepare()
    runner.init()
    with pytest.raises(HarnessError) as caught:
        runner.validate()
    assert "main.tf:13" in (caught.value.fix or "")
    assert "not_an_argument" in (caught.value.fix or "") or "Unsupported argument" in (caught.value.fix or "")
