"""Fidelity patches: small, named monkeypatches that make moto answer like AWS where stock moto falls short.

Each patch is one module under ``harness/aws/<service>/patches/`` that defines ``PATCH = FidelityPatch(...)``.
``discover()`` walks those packages with pkgutil, so adding a patch never means editing a shared list.

Rules for a patch module (``tests/harness/aws/test_registry.py`` checks the first two):

* Import nothing from moto at module level: do it inside ``apply``. ``discover()`` runs before the
  server has set moto's environment (``env`` below), and some moto settings are read at import time.
* Name it after what it fixes, lower-case words joined by ``-`` (``sqs-redrive-allow-policy``).
* Say in ``summary`` what AWS does and what stock moto does instead, in one or two sentences.
* Patch the smallest thing that works: one model or response method, wrapped or replaced, not a service.
* ``apply`` must be idempotent and must not lie about anything a test can observe later.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.core.errors import HarnessError

__all__ = ["FidelityPatch", "UnknownPatchError", "applied", "applied_patches", "apply_all", "discover", "select"]


@dataclass(frozen=True)
class FidelityPatch:
    """One named difference between AWS and stock moto, and the code that removes it.

    ``env`` holds moto settings (environment variables) the patch needs; they are set (unless the user
    already set them) before any ``apply`` runs, so a process that has not imported moto yet reads them.
    ``apply`` monkeypatches moto in-process; it may be a no-op for a patch that is only a setting.

    A patch that keeps state outside moto's backends, or runs threads, takes part in the emulator state
    (``harness.emulator.state``): ``save_state()`` returns what to save beside the backends (pickled with
    them, so it may refer to their objects); after a restore, ``restore_state(saved, saved_endpoint,
    endpoint)`` gets it back (None when the file has none) with the saving server's and this server's
    ``http://host:port``, and restarts whatever the patch was doing.
    """

    name: str
    summary: str
    apply: Callable[[], None]
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    save_state: Callable[[], Any] | None = None
    restore_state: Callable[[Any, str | None, str], None] | None = None


class UnknownPatchError(HarnessError):
    """A patch name that no module in harness.aws.fidelity defines."""


_lock = threading.Lock()
_applied: list[str] = []


def _patch_modules() -> list[str]:
    """Dotted names of the modules in every ``harness.aws.<service>.patches`` package, by service then module."""
    import harness.aws

    names: list[str] = []
    for service in sorted(pkgutil.iter_modules(harness.aws.__path__), key=lambda m: m.name):
        if not service.ispkg:
            continue
        package = f"harness.aws.{service.name}.patches"
        try:
            patches = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name == package:
                continue  # a service package without fidelity patches
            raise
        names += [f"{package}.{m.name}" for m in sorted(pkgutil.iter_modules(patches.__path__), key=lambda m: m.name)
                  if not m.name.startswith("_")]
    return names


def discover() -> dict[str, FidelityPatch]:
    """Every patch in this package, by name, in module order. Imports the modules, not moto."""
    found: dict[str, FidelityPatch] = {}
    for name in _patch_modules():
        module = importlib.import_module(name)
        patch = getattr(module, "PATCH", None)
        if not isinstance(patch, FidelityPatch):
            continue
        if patch.name in found:
            raise HarnessError(
                f"two fidelity patches are named {patch.name!r} (the second in {module.__name__})",
                "give each PATCH a unique name",
            )
        found[patch.name] = patch
    return found


def select(names: Iterable[str] | None = None) -> list[FidelityPatch]:
    """The patches called `names` (all when None), in discovery order; unknown names raise."""
    patches = discover()
    if names is None:
        return list(patches.values())
    wanted = set(names)
    unknown = sorted(wanted - patches.keys())
    if unknown:
        raise UnknownPatchError(
            f"no fidelity patch named {', '.join(unknown)}",
            f"choose from: {', '.join(patches)}",
        )
    return [patch for name, patch in patches.items() if name in wanted]


def apply_all(names: set[str] | None = None) -> list[str]:
    """Set the env of, then apply, the patches called `names` (all when None); return their names.

    Idempotent: a patch already applied in this process is not applied again (its name is still
    returned). Call it in the process that serves moto, before the first request if you can.
    """
    chosen = select(names)
    with _lock:
        for patch in chosen:
            for key, value in patch.env.items():
                os.environ.setdefault(key, value)
        for patch in chosen:
            if patch.name not in _applied:
                patch.apply()
                _applied.append(patch.name)
    return [patch.name for patch in chosen]


def applied_patches() -> list[FidelityPatch]:
    """The patches applied in this process so far, in the order they were applied."""
    found = discover()
    return [found[name] for name in applied() if name in found]


def applied() -> list[str]:
    """Names of the patches applied in this process so far, in the order they were applied."""
    with _lock:
        return list(_applied)
