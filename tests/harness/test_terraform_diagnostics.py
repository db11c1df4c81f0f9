"""A Terraform failure is reported whole (title, resource, file:line, detail), and an emulator gap by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.core.rundir import RunDir
from harness.emulator.backend import MotoBackend
from harness.terraform.runner import TerraformRunner, error_summary, render_diagnostic

DATA = Path(__file__).parent / "data"

# `terraform apply -no-color` output of a failed resource, as Terraform prints it without a terminal.
TEXT_FAILURE = """aws_s3_bucket.assets: Creating...

Error: creating S3 Bucket (assets): operation error S3: CreateBucket, https response error StatusCode: 409

  with aws_s3_bucket.assets,
  on main.tf line 11, in resource "aws_s3_bucket" "assets":
  11: resource "aws_s3_bucket" "assets" {

The bucket name is already taken by another account.

Error: Invalid resource type

  on main.tf line 20, in resource "aws_not_a_real_thing" "widget":
  20: resource "aws_not_a_real_thing" "widget" {

The provider hashicorp/aws does not support resource type
"aws_not_a_real_thing".
"""


def test_text_errors_keep_address_place_and_detail() -> None:
    summary = error_summary(TEXT_FAILURE)
    first, second = summary.split("\n\nError: ")
    assert "with aws_s3_bucket.assets," in first and "on main.tf line 11" in first
    assert "already taken by another account" in first
    assert second.startswith("Invalid resource type") and "on main.tf line 20" in second
    assert 'does not support resource type\n"aws_not_a_real_thing"' in second


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoBackend]:
    run = tmp_path_factory.mktemp("moto-run")
    backend = MotoBackend(RunDir(run), "127.0.0.1", free_port())
    backend.start(timeout=60)
    try:
        yield backend
    finally:
        backend.stop()


def _apply(source: Path, endpoint: str, tmp_path: Path) -> HarnessError:
    runner = TerraformRunner(source=source, workdir=tmp_path / "tf" / "work", aws_endpoint_url=endpoint,
                             region="us-east-1", log_path=tmp_path / "tf.log")
    runner.prepare()
    runner.init()
    with pytest.raises(HarnessError) as caught:
        runner.apply()
    return caught.value


@pytest.mark.slow
def test_an_invalid_resource_type_names_the_resource_file_line_and_detail(
    moto: MotoBackend, tmp_path: Path
) -> None:
    error = _apply(DATA / "invalid_type_tf", moto.endpoint_url, tmp_path)
    fix = error.fix or ""
    assert "Error: Invalid resource type" in fix
    assert f"{DATA / 'invalid_type_tf' / 'main.tf'}:11" in fix
    assert 'resource "aws_not_a_real_thing" "widget"' in fix
    assert 'The provider hashicorp/aws does not support resource type "aws_not_a_real_thing".' in fix


@pytest.mark.slow
def test_a_service_the_emulator_lacks_is_named(moto: MotoBackend, tmp_path: Path) -> None:
    error = _apply(DATA / "unimplemented_tf", moto.endpoint_url, tmp_path)
    fix = error.fix or ""
    assert "has no CodeArtifact" in fix
    assert "resource: aws_codeartifact_domain.packages" in fix
    assert f"{DATA / 'unimplemented_tf' / 'main.tf'}:11" in fix
    assert "invalid character '<'" not in fix


@pytest.mark.slow
def test_the_emulator_answers_an_unimplemented_service_as_aws_would(moto: MotoBackend) -> None:
    client = boto3.client("codeartifact", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    with pytest.raises(ClientError) as caught:
        client.list_domains()
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "has no CodeArtifact" in caught.value.response["Error"]["Message"]
    sts = boto3.client("sts", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    assert sts.get_caller_identity()["Account"]  # implemented services are served as before


def test_a_json_diagnostic_is_rendered_whole(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text("")
    diagnostic = {"severity": "warning", "summary": "Deprecated attribute", "detail": "Use x instead.",
                  "address": "aws_s3_bucket.assets",
                  "range": {"filename": "main.tf", "start": {"line": 4}},
                  "snippet": {"context": 'resource "aws_s3_bucket" "assets"'}}
    assert render_diagnostic(diagnostic, tmp_path).splitlines() == [
        "Warning: Deprecated attribute",
        "  resource: aws_s3_bucket.assets",
        f'  at: {tmp_path / "main.tf"}:4 (resource "aws_s3_bucket" "assets")',
        "  Use x instead.",
    ]
