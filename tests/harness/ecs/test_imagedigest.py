"""The content tag of an image build changes with what the build reads, and with nothing else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.aws.ecs.imagebuild import TAG_LENGTH, effective_build_args
from harness.aws.ecs.imagedigest import content_digest, context_paths

DOCKERFILE = """ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE} AS base
COPY requirements.txt ./
COPY app ./app
FROM base AS test
CMD ["pytest"]
FROM base
CMD ["app"]
"""


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "app").mkdir(parents=True)
    (root / "svc").mkdir()
    (root / "svc" / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text("boto3>=1.35\n")
    (root / "app" / "__init__.py").write_text("VALUE = 1\n")
    (root / "app" / "run.sh").write_text("#!/bin/sh\nexec app\n")
    (root / ".dockerignore").write_text("# build junk\n**/__pycache__\n*.log\nsvc\n!keep.log\n")
    return root


def digest(context: Path, **kwargs) -> str:
    return content_digest(kwargs.pop("dockerfile", context / "svc" / "Dockerfile"), context, **kwargs)


def test_the_same_inputs_give_the_same_digest_wherever_the_context_lies(context: Path, tmp_path: Path):
    first = digest(context)
    assert digest(context) == first
    copy = tmp_path / "elsewhere" / "ctx"
    shutil.copytree(context, copy)
    assert digest(copy) == first
    assert len(first) == 64 and TAG_LENGTH < 64


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c: (c / "app" / "__init__.py").write_text("VALUE = 2\n"), id="file content"),
        pytest.param(lambda c: (c / "app" / "new.py").write_text(""), id="file added"),
        pytest.param(lambda c: (c / "requirements.txt").unlink(), id="file removed"),
        pytest.param(lambda c: (c / "app" / "__init__.py").rename(c / "app" / "main.py"), id="file renamed"),
        pytest.param(lambda c: (c / "app" / "empty").mkdir(), id="directory added"),
        pytest.param(lambda c: (c / "app" / "run.sh").chmod(0o755), id="executable bit"),
        pytest.param(lambda c: (c / "app" / "link").symlink_to("run.sh"), id="symlink added"),
        pytest.param(lambda c: (c / "keep.log").write_text("kept"), id="file re-included by !pattern"),
        pytest.param(lambda c: (c / "svc" / "Dockerfile").write_text(DOCKERFILE + "EXPOSE 80\n"), id="Dockerfile"),
        pytest.param(lambda c: (c / ".dockerignore").write_text("svc\n"), id=".dockerignore"),
    ],
)
def test_a_change_the_build_reads_changes_the_digest(context: Path, change):
    before = digest(context)
    change(context)
    assert digest(context) != before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c: (c / "app" / "__pycache__").mkdir() or (c / "app" / "__pycache__" / "x.pyc")
                     .write_bytes(b"\0"), id="ignored directory"),
        pytest.param(lambda c: (c / "build.log").write_text("noise"), id="ignored file"),
        pytest.param(lambda c: (c / "svc" / "notes.md").write_text("not sent"), id="file in an ignored directory"),
        pytest.param(lambda c: os.utime(c / "app" / "__init__.py", (1, 1)), id="timestamp"),
        pytest.param(lambda c: (c / "app" / "__init__.py").chmod(0o600), id="non-executable permission bits"),
    ],
)
def test_what_the_build_does_not_read_leaves_the_digest(context: Path, change):
    before = digest(context)
    change(context)
    assert digest(context) == before


def test_build_args_target_and_base_images_are_part_of_the_digest(context: Path):
    plain = digest(context)
    assert digest(context, build_args={"BASE_IMAGE": "mailstack/python:3.11-bookworm"}) != plain
    assert digest(context, build_args={"BASE_IMAGE": "a"}) != digest(context, build_args={"BASE_IMAGE": "b"})
    assert digest(context, target="test") != plain
    assert digest(context, base_ids={"python:3.12-slim": "sha256:1"}) != digest(
        context, base_ids={"python:3.12-slim": "sha256:2"})
    # the order args were given in is not an input
    assert digest(context, build_args={"A": "1", "B": "2"}) == digest(context, build_args={"B": "2", "A": "1"})


def test_a_dockerfile_outside_the_context_counts_by_its_content(context: Path, tmp_path: Path):
    outside = tmp_path / "Dockerfile.outside"
    outside.write_text(DOCKERFILE)
    before = digest(context, dockerfile=outside)
    outside.write_text(DOCKERFILE + "USER 10001\n")
    assert digest(context, dockerfile=outside) != before


def test_context_paths_follow_dockerignore_and_always_include_the_dockerfile(context: Path):
    (context / "app" / "__pycache__").mkdir()
    (context / "app" / "__pycache__" / "x.pyc").write_bytes(b"")
    (context / "keep.log").write_text("")
    (context / "drop.log").write_text("")
    paths = context_paths(context, context / "svc" / "Dockerfile")
    assert "svc/Dockerfile" in paths  # excluded by `svc`, sent anyway: Docker needs it
    assert "keep.log" in paths and "drop.log" not in paths
    assert not [p for p in paths if "__pycache__" in p]
    assert {"app/__init__.py", "app/run.sh", "requirements.txt", ".dockerignore"} <= set(paths)


def test_default_build_args_apply_only_where_the_dockerfile_declares_them():
    defaults = {"BASE_IMAGE": "mailstack/python:3.11-bookworm", "UNUSED": "x"}
    assert effective_build_args(DOCKERFILE, defaults, {}) == {"BASE_IMAGE": "mailstack/python:3.11-bookworm"}
    assert effective_build_args(DOCKERFILE, defaults, {"BASE_IMAGE": "mine:1"}) == {"BASE_IMAGE": "mine:1"}
    assert effective_build_args("FROM scratch\n", defaults, {"K": "v"}) == {"K": "v"}
