"""What a build depends on besides its context (declared ARGs, base images, COPY sources), and the build
context the image map infers from the COPY sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.aws.ecs.dockerfile import DockerfileError, build_inputs
from harness.aws.ecs.images import ImageResolver, infer_context

ROOT = Path(__file__).resolve().parents[3]


def test_base_images_follow_args_and_skip_earlier_stages_and_scratch():
    text = ("ARG BASE=python:3.12-slim\nFROM ${BASE} AS build\nFROM build AS test\nFROM scratch AS empty\n"
            "FROM --platform=linux/amd64 alpine:3\nARG LATE=1\n")
    inputs = build_inputs(text)
    assert inputs.base_images == ("python:3.12-slim", "alpine:3")
    assert inputs.declared_args == {"BASE", "LATE"}
    local = "mailstack/python:3.11-bookworm"
    assert build_inputs(text, {"BASE": local}).base_images[0] == local


def test_copy_sources_leave_out_stages_urls_and_heredocs():
    text = ('FROM a AS one\nCOPY --chown=1:1 requirements.txt pyproject.toml ./\nCOPY ["my dir", "/x/"]\n'
            "COPY --from=one /built /built\nADD https://example.com/f.tgz /f\nCOPY <<EOF /etc/motd\nhi\nEOF\n"
            "ADD --chmod=755 run.sh /run.sh\n")
    assert build_inputs(text).copy_sources == ("requirements.txt", "pyproject.toml", "my dir", "run.sh")


def test_from_without_an_image_is_named():
    with pytest.raises(DockerfileError, match="FROM without an image"):
        build_inputs("FROM\n")


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_context_is_the_first_directory_holding_every_copy_source(tmp_path: Path):
    _tree(tmp_path, {
        "services/requirements.txt": "", "services/pkg/__init__.py": "",
        "services/api/Dockerfile": "FROM x\nCOPY requirements.txt ./\nCOPY pkg ./pkg\n",
        "services/echo/Dockerfile": "FROM x\nCOPY echo.py .\n", "services/echo/echo.py": "",
        "services/bare/Dockerfile": "FROM x\nCMD [\"true\"]\n",
        "services/broken/Dockerfile": "FROM x\nCOPY missing.txt .\n",
        "services/glob/Dockerfile": "FROM x\nCOPY pkg/*.py ./\n",
    })
    root = tmp_path / "services"
    assert infer_context(root / "api" / "Dockerfile", root) == root
    assert infer_context(root / "echo" / "Dockerfile", root) == root / "echo"
    assert infer_context(root / "bare" / "Dockerfile", root) == root / "bare"
    assert infer_context(root / "broken" / "Dockerfile", root) == root / "broken"  # the build names what is missing
    assert infer_context(root / "glob" / "Dockerfile", root) == root
    # never above the fallback root
    assert infer_context(root / "api" / "Dockerfile", root / "api") == root / "api"


def test_the_image_map_fallback_gives_the_services_their_build_context():
    resolver = ImageResolver(fallback_roots=[ROOT / "services"])
    for name in ("api", "worker"):
        source = resolver.resolve(f"123456789012.dkr.ecr.us-east-1.amazonaws.com/mailstack-dev-{name}:1").source
        assert source.dockerfile == ROOT / "services" / name / "Dockerfile"
        assert source.context_dir == ROOT / "services"  # `COPY requirements.txt ./` reads services/
