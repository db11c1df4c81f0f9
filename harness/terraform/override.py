"""The override file that points the team's unchanged Terraform at the emulated AWS.

Terraform merges `*_override.tf` files into the root module, so the team's provider blocks (region,
default tags, aliases) stay as written and only credentials, path-style S3 and retry limits are added.
Endpoints come from ``AWS_ENDPOINT_URL``, which the AWS provider (5.x) and every AWS SDK honour.
"""

from __future__ import annotations

from pathlib import Path

import hcl2

from harness.core.errors import HarnessError

OVERRIDE_NAME = "zz_harness_override.tf"

PROVIDER_SETTINGS = {
    "access_key": '"test"',
    "secret_key": '"test"',
    "skip_credentials_validation": "true",
    "skip_metadata_api_check": "true",
    "skip_region_validation": "true",
    "s3_use_path_style": "true",
    # The emulator answers unimplemented calls with HTTP 500, which the SDK would retry for minutes.
    "max_retries": "2",
}


def _unquote(value: str) -> str:
    return value.strip('"')


def scan_root_module(root: Path) -> tuple[list[str | None], bool]:
    """The aliases of the root module's `aws` provider blocks (None = default) and whether it has a backend."""
    aliases: list[str | None] = []
    has_backend = False
    for tf_file in sorted(root.glob("*.tf")):
        if tf_file.name.endswith("override.tf"):
            continue
        try:
            with tf_file.open() as handle:
                parsed = hcl2.load(handle)
        except Exception as exc:  # python-hcl2 raises lark errors of several kinds
            raise HarnessError(
                f"cannot parse {tf_file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                "fix the syntax (`terraform validate` in that directory shows the exact position)",
            ) from exc
        for provider in parsed.get("provider", []):
            for name, body in provider.items():
                if _unquote(name) == "aws":
                    alias = body.get("alias")
                    aliases.append(_unquote(alias) if isinstance(alias, str) else None)
        for block in parsed.get("terraform", []):
            if block.get("backend") or block.get("cloud"):
                has_backend = True
    if None not in aliases:
        aliases.insert(0, None)  # the implicit default provider still needs credentials
    return aliases, has_backend


def render_override(aliases: list[str | None], has_backend: bool, state_path: Path) -> str:
    blocks: list[str] = []
    if has_backend:
        blocks.append(f'terraform {{\n  backend "local" {{\n    path = "{state_path}"\n  }}\n}}\n')
    for alias in aliases:
        lines = ['provider "aws" {']
        if alias:
            lines.append(f'  alias = "{alias}"')
        lines += [f"  {key} = {value}" for key, value in PROVIDER_SETTINGS.items()]
        lines.append("}\n")
        blocks.append("\n".join(lines))
    return "# Written by the mailstack harness for the emulated AWS; not part of the team's Terraform.\n\n" + (
        "\n".join(blocks)
    )
