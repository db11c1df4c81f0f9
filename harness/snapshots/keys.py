"""What a snapshot's content depends on, as keys.

* ``compatibility``: what must be equal for a saved cloud to be restorable here at all: the harness's version
  and its emulator (moto's version, the code of the server, the state format and the fidelity patches,
  Python), the Terraform binary's version, the providers it can install (the mirror's packages, the team's
  lock file), the provider settings the harness adds, the region.
* ``cloud``: compatibility plus the Terraform tree and var files, file by file (``sources``), so a store can
  also say which saved cloud differs least from this tree (``differing``).
* ``database``: the cloud plus what shapes the PostgreSQL data before the services run: the services' code
  (the migrations are in it), the tasks run before them, PostgreSQL's major version.
"""

from __future__ import annotations

import ast
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
from harness.terraform.override import PROVIDER_SETTINGS
from harness.terraform.runner import find_terraform, source_fingerprint, tree_digests

_HARNESS = Path(harness.__file__).parent
# the emulator: the server, its state format, the registry of patches; the patches are found below
_EMULATOR_ROOTS = ("emulator/moto_server.py", "emulator/state.py", "emulator/quiesce.py", "aws/fidelity.py")


@dataclass(frozen=True)
class SnapshotKeys:
    compatibility: str
    cloud: str
    database: str
    sources: dict[str, str]


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _harness_module(name: str) -> Path | None:
    relative = Path(*name.split(".")[1:])
    for candidate in (_HARNESS / relative.with_suffix(".py"), _HARNESS / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_harness_modules(path: Path) -> set[Path]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {module for name in names if name.startswith("harness.") if (module := _harness_module(name))}
    return found


def emulator_code_digest() -> str:
    """SHA-256 over the emulator's code: the server, the state format, every fidelity patch, and every harness
    module they import (transitively). The data plane's code is not in it: it does not shape a saved cloud."""
    pending = {_HARNESS / root for root in _EMULATOR_ROOTS} | set(_HARNESS.glob("aws/*/patches/*.py"))
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        seen.add(path)
        pending |= _imported_harness_modules(path) - seen
    digest = hashlib.sha256()
    for path in sorted(seen):
        digest.update(str(path.relative_to(_HARNESS)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
        "emulator_code": emulator_code_digest(),
        "provider_settings": PROVIDER_SETTINGS,  # what the harness's override adds to the team's provider blocks
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
