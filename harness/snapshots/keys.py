"""What a snapshot's content depends on, as keys.

* ``compatibility``: what must be equal for a saved cloud to be restorable here at all: the harness and its
  emulator (moto's version, the fidelity patches' and the state format's sources, Python), the Terraform
  binary's version, the providers it can install (the mirror's packages, the team's lock file), the region.
* ``cloud``: compatibility plus the Terraform tree and var files, file by file (``sources``), so a store can
  also say which saved cloud differs least from this tree (``differing``).
* ``database``: the cloud plus what shapes the PostgreSQL data before the services run: the services' code
  (the migrations are in it), the tasks run before them, PostgreSQL's major version.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import harness
from harness.postgres.binaries import find_postgres_bin_dir
from harness.terraform.cli_config import find_provider_mirror
from harness.terraform.runner import find_terraform, source_fingerprint, tree_digests

_HARNESS = Path(harness.__file__).parent
# the harness code whose change can change what an apply leaves in the emulator or the state file
_SHAPES_THE_CLOUD = ("aws", "emulator", "terraform")


@dataclass(frozen=True)
class SnapshotKeys:
    compatibility: str
    cloud: str
    database: str
    sources: dict[str, str]


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def terraform_version(binary: str) -> str:
    out = subprocess.run([find_terraform(binary), "version", "-json"], capture_output=True, text=True, check=False)
    return str(json.loads(out.stdout).get("terraform_version", "unknown"))


def provider_packages(mirror: Path | None) -> list[str]:
    """The provider packages a mirror holds (name and size: the zip names carry the versions)."""
    found = find_provider_mirror(mirror)
    if found is None:
        return ["registry"]
    return sorted(f"{path.relative_to(found)}:{path.stat().st_size}" for path in found.rglob("*") if path.is_file())


def postgres_version(bin_dir: Path | None) -> str:
    found = find_postgres_bin_dir(bin_dir)
    out = subprocess.run([str(found / "postgres"), "-V"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def compatibility(*, terraform_binary: str, mirror: Path | None, source: Path, region: str) -> dict[str, object]:
    lock = source / ".terraform.lock.hcl"
    return {
        "harness": harness.__version__,
        "harness_code": {part: source_fingerprint(_HARNESS / part) for part in _SHAPES_THE_CLOUD},
        "moto": metadata.version("moto"),
        "python": ".".join(platform.python_version_tuple()[:2]),
        "terraform": terraform_version(terraform_binary),
        "providers": provider_packages(mirror),
        "lock_file": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None,
        "region": region,
    }


def snapshot_keys(
    *,
    terraform_binary: str,
    mirror: Path | None,
    source: Path,
    var_files: Sequence[Path],
    region: str,
    services_dir: Path,
    run_before_services: Sequence[str],
    postgres_bin_dir: Path | None,
) -> SnapshotKeys:
    compat = _digest(compatibility(terraform_binary=terraform_binary, mirror=mirror, source=source, region=region))
    sources = tree_digests(source)
    for index, var_file in enumerate(var_files):
        sources[f"var-file:{index}:{var_file.name}"] = hashlib.sha256(var_file.read_bytes()).hexdigest()
    cloud = _digest({"compatibility": compat, "sources": sources})
    services = source_fingerprint(services_dir) if services_dir.is_dir() else "missing"
    database = _digest({"cloud": cloud, "services": services, "before": list(run_before_services),
                        "postgres": postgres_version(postgres_bin_dir)})
    return SnapshotKeys(compatibility=compat, cloud=cloud, database=database, sources=sources)


def differing(ours: Mapping[str, str], theirs: Mapping[str, str]) -> int:
    """How many files differ between two trees' digests (changed, added or removed)."""
    return sum(1 for name in set(ours) | set(theirs) if ours.get(name) != theirs.get(name))
