from __future__ import annotations

from pathlib import Path

from harness.terraform.cli_config import find_provider_mirror, mirrored_providers, render_cli_config
from harness.terraform.override import render_override, scan_root_module


def _mirror(tmp_path: Path) -> Path:
    (tmp_path / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64").mkdir(parents=True)
    (tmp_path / "registry.terraform.io/hashicorp/random/3.6.0/linux_amd64").mkdir(parents=True)
    return tmp_path


def test_mirror_providers_come_only_from_the_mirror(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirrored_providers(mirror) == [
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/random",
    ]
    text = render_cli_config(mirror, tmp_path / "cache")
    assert f'path    = "{mirror}"' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/random"]' in text
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in text


def test_configured_mirror_wins(tmp_path: Path) -> None:
    assert find_provider_mirror(tmp_path) == tmp_path


def test_no_mirror_means_direct_only(tmp_path: Path) -> None:
    text = render_cli_config(None, tmp_path)
    assert "filesystem_mirror" not in text and "direct {}" in text


def test_override_covers_every_aws_alias_and_replaces_a_remote_backend(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "s3" {\n    bucket = "state"\n  }\n}\n'
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'provider "aws" {\n  alias  = "edge"\n  region = "us-east-1"\n}\n'
    )
    aliases, has_backend = scan_root_module(tmp_path)
    assert aliases == [None, "edge"] and has_backend
    text = render_override(aliases, has_backend, tmp_path / "state.tfstate")
    assert 'backend "local"' in text
    assert text.count('provider "aws"') == 2 and 'alias = "edge"' in text
    assert "s3_use_path_style = true" in text


def test_implicit_default_provider_gets_credentials(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n')
    aliases, has_backend = scan_root_module(tmp_path)
    assert aliases == [None] and not has_backend
