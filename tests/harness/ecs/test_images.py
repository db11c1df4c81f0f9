"""Image reference -> Dockerfile -> argv, with the first word resolved on the harness's PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.aws.ecs.dockerfile import ImageConfig
from harness.aws.ecs.images import (
    ImageResolver,
    ImageSource,
    container_argv,
    harness_path,
    parse_image,
    resolve_program,
)
from harness.aws.ecs.model import ContainerDefinition
from harness.core.errors import HarnessError

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
VENV_BIN = Path(sys.executable).parent


def _container(**kwargs) -> ContainerDefinition:
    return ContainerDefinition(name="app", image=f"{ECR}/app:1", **kwargs)


IMAGE = ImageConfig(entrypoint=("mailstack",), cmd=("api",))


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "digest"),
    [
        (f"{ECR}/mailstack-dev-api:0.1.0", ECR, "mailstack-dev-api", "0.1.0", ""),
        (f"{ECR}/team/api@sha256:abc", ECR, "team/api", "latest", "sha256:abc"),
        ("localhost:5000/api:dev", "localhost:5000", "api", "dev", ""),
        ("nginx", "", "nginx", "latest", ""),
        ("library/nginx:1.27", "", "library/nginx", "1.27", ""),
    ],
)
def test_parse_image(image, registry, repository, tag, digest):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        (_container(), ["mailstack", "api"]),  # image ENTRYPOINT + CMD
        (_container(command=("worker",)), ["mailstack", "worker"]),  # command replaces CMD
        (_container(command=()), ["mailstack"]),  # an explicitly empty command
        (_container(entry_point=("python", "-m", "x")), ["python", "-m", "x"]),  # entryPoint drops the image CMD
        (_container(entry_point=("sh", "-c"), command=("echo hi",)), ["sh", "-c", "echo hi"]),
    ],
)
def test_container_argv_follows_docker_override_rules(container, argv):
    assert container_argv(container, IMAGE) == argv


def test_nothing_to_run_is_an_error():
    with pytest.raises(HarnessError, match="nothing to run"):
        container_argv(_container(), ImageConfig())


def test_first_word_resolves_in_the_harness_venv_first():
    path = harness_path("/usr/bin:/bin")
    assert path.split(":")[0] == str(VENV_BIN)
    argv = resolve_program(["python", "-V"], path)
    assert argv == [str(VENV_BIN / "python"), "-V"]
    assert resolve_program(["mailstack", "api"], path)[0] == str(VENV_BIN / "mailstack")


def test_absolute_path_inside_the_image_falls_back_to_the_program_name(tmp_path: Path):
    argv = resolve_program(["/app/.venv/bin/python", "x.py"], harness_path(), tmp_path)
    assert argv[0] == str(VENV_BIN / "python")
    assert resolve_program(["/bin/sh", "-c", "true"], harness_path())[0] == "/bin/sh"


def test_relative_path_resolves_in_the_build_context(tmp_path: Path):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    assert resolve_program(["./run.sh"], harness_path(), tmp_path) == [str(tmp_path / "./run.sh")]
    with pytest.raises(HarnessError, match="not found"):
        resolve_program(["./missing.sh"], harness_path(), tmp_path)


def test_unknown_program_names_the_fix():
    with pytest.raises(HarnessError, match=r"not on the harness PATH.*install it"):
        resolve_program(["no-such-program-xyz"], harness_path())


def _dockerfile(root: Path, name: str, cmd: str) -> Path:
    path = root / name / "Dockerfile"
    path.parent.mkdir(parents=True)
    path.write_text(f'FROM alpine\nENTRYPOINT ["mailstack"]\nCMD ["{cmd}"]\n')
    return path


def test_image_map_by_repository_name(tmp_path: Path):
    dockerfile = _dockerfile(tmp_path, "anything", "api")
    resolver = ImageResolver({"mailstack-dev-api": dockerfile})
    resolved = resolver.resolve(f"{ECR}/mailstack-dev-api:0.1.0")
    assert resolved.config.cmd == ("api",)
    assert resolved.source.context_dir == dockerfile.parent
    assert resolved.via == "image map"


def test_image_map_with_source_context_and_target(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM alpine AS one\nCMD ["one"]\nFROM alpine AS two\nCMD ["two"]\n')
    resolver = ImageResolver({"app": ImageSource(dockerfile, context=tmp_path / "ctx", target="one")})
    resolved = resolver.resolve(f"{ECR}/app:1")
    assert resolved.config.cmd == ("one",)
    assert resolved.source.context_dir == tmp_path / "ctx"


def test_fallback_directory_matches_the_longest_repository_suffix(tmp_path: Path):
    _dockerfile(tmp_path, "api", "api")
    _dockerfile(tmp_path, "dev-worker", "worker")
    _dockerfile(tmp_path, "worker", "wrong")
    resolver = ImageResolver({}, fallback_roots=[tmp_path])
    assert resolver.resolve(f"{ECR}/mailstack-dev-api:0.1.0").source.dockerfile == tmp_path / "api" / "Dockerfile"
    worker = resolver.resolve(f"{ECR}/mailstack-dev-worker:0.1.0")
    assert worker.config.cmd == ("worker",)
    assert worker.via == f"fallback {tmp_path}"


def test_unmapped_image_names_the_fix(tmp_path: Path):
    with pytest.raises(HarnessError, match=r"no Dockerfile for image.*image_map=\{'billing'"):
        ImageResolver({}, fallback_roots=[tmp_path]).resolve(f"{ECR}/billing:1")
