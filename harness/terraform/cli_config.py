"""The Terraform CLI configuration the harness writes for its own runs (provider mirror + plugin cache)."""

from __future__ import annotations

import os
from pathlib import Path

_AWS_PROVIDER = Path("registry.terraform.io/hashicorp/aws")


def mirror_candidates() -> list[Path]:
    home = Path.home()
    xdg = Path(os.environ.get("XDG_DATA_HOME", home / ".local/share"))
    return [
        Path("/opt/tf-plugins"),
        home / ".terraform.d/plugins",
        xdg / "terraform/plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]


def find_provider_mirror(configured: Path | None = None) -> Path | None:
    """A filesystem mirror holding the AWS provider: `configured` if given, else the first usual place."""
    if configured is not None:
        return configured
    for candidate in mirror_candidates():
        if (candidate / _AWS_PROVIDER).is_dir():
            return candidate
    return None


def mirrored_providers(mirror: Path) -> list[str]:
    """`hostname/namespace/type` of every provider the mirror holds (its directory layout says so)."""
    return sorted(
        "/".join(kind.relative_to(mirror).parts)
        for kind in mirror.glob("*/*/*")
        if kind.is_dir()
    )


def render_cli_config(mirror: Path | None, plugin_cache: Path) -> str:
    """Providers in the mirror come only from it; anything else from its registry (when reachable)."""
    lines = [f'plugin_cache_dir = "{plugin_cache}"', "provider_installation {"]
    if mirror is not None:
        held = ", ".join(f'"{name}"' for name in mirrored_providers(mirror))
        lines += ["  filesystem_mirror {", f'    path    = "{mirror}"', f"    include = [{held}]", "  }"]
        lines += ["  direct {", f"    exclude = [{held}]", "  }"]
    else:
        lines += ["  direct {}"]
    lines += ["}", ""]
    return "\n".join(lines)


def write_cli_config(target: Path, mirror: Path | None, plugin_cache: Path) -> Path:
    plugin_cache.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_cli_config(mirror, plugin_cache))
    return target
