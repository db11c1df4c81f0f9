"""The fidelity-patch registry: discovery, naming rules, selection and idempotent application."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from harness.aws import fidelity as patches
from harness.aws.fidelity import FidelityPatch, UnknownPatchError

NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_discover_finds_every_patch_module() -> None:
    found = patches.discover()

    assert {
        "iam-managed-policies",
        "acm-validation-immediate",
        "sqs-redrive-allow-policy",
        "sqs-redrive-policy-json",
        "sqs-set-attributes-keeps-policy",
        "sqs-message-move-tasks",
    } <= set(found)
    for name, patch in found.items():
        assert isinstance(patch, FidelityPatch)
        assert patch.name == name
        assert NAME.match(name), f"{name}: lower-case words joined by '-'"
        assert len(patch.summary) > 40, f"{name}: say what AWS does and what stock moto does"
        assert callable(patch.apply)


def test_discovery_imports_no_moto() -> None:
    """Patch modules import moto inside apply(): the server sets moto's environment after discovery."""
    code = "import sys; from harness.aws import fidelity as patches; patches.discover(); print('moto' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_select_rejects_unknown_names() -> None:
    with pytest.raises(UnknownPatchError) as error:
        patches.select({"no-such-patch"})
    assert "no-such-patch" in str(error.value)
    assert "sqs-redrive-allow-policy" in str(error.value)  # the fix lists the known names


def test_apply_all_is_idempotent_and_returns_the_names() -> None:
    first = patches.apply_all({"sqs-redrive-policy-json"})
    from moto.sqs.models import Queue

    attributes = Queue.attributes
    second = patches.apply_all({"sqs-redrive-policy-json"})

    assert first == second == ["sqs-redrive-policy-json"]
    assert Queue.attributes is attributes  # not wrapped twice
    assert "sqs-redrive-policy-json" in patches.applied()
    assert patches.apply_all(set()) == []
