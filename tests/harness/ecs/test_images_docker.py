"""The real thing, on a Docker engine: the API image builds from services/api/Dockerfile on this machine's base
image, runs its entrypoint as uid 10001 with what it installed, is reused while unchanged and rebuilt when its
context changes; the PostgreSQL base image starts like the official one. Skipped when no engine answers."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import psycopg
import pytest

from harness.aws.ecs.baseimages import BASE_IMAGES, choose
from harness.aws.ecs.imagebuild import CONTENT_LABEL, ImageBuilder, buildkit_command
from harness.aws.ecs.images import ImageResolver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
API_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mailstack-dev-api:0.1.0"


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine answers ({type(exc).__name__}): scripts/docker-engine starts one")
    yield engine
    engine.close()


def test_docker_engine_script_leaves_an_answering_engine_alone(client):
    server = client.version()["Version"]
    result = subprocess.run([ROOT / "scripts" / "docker-engine"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"docker-engine: an engine answers (server {server}")


def _base(client: docker.DockerClient, name: str) -> str:
    image = choose(name, client)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(image)
        except docker.errors.DockerException:
            pytest.skip(f"no {name} base image: scripts/base-images builds {BASE_IMAGES[name].local} here, "
                        f"and no registry serves {image}")
    return image


def _remove_repository(client: docker.DockerClient, repository: str) -> None:
    for image in client.images.list(name=repository):
        for tag in image.tags:
            if tag.startswith(f"{repository}:"):
                client.images.remove(tag)


def _run(client: docker.DockerClient, image: str, command: list[str], **kwargs) -> tuple[int, str]:
    container = client.containers.run(image, command, detach=True, **kwargs)
    try:
        status = container.wait(timeout=120)["StatusCode"]
        return status, container.logs().decode()
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("kind", ["buildkit", "classic"])
def test_the_api_image_builds_runs_and_is_rebuilt_only_when_its_content_changes(client, kind, tmp_path):
    if kind == "buildkit" and buildkit_command() is None:
        pytest.skip("no docker CLI offers BuildKit here (no `docker buildx`, no CLI older than 23)")
    base = _base(client, "python")
    repository = f"mailstack-test/api-{kind}-{uuid.uuid4().hex[:8]}"
    builder = ImageBuilder(client, default_args={"BASE_IMAGE": base}, buildkit=kind == "buildkit")
    source = ImageResolver(fallback_roots=[ROOT / "services"]).resolve(API_IMAGE).source
    try:
        first = builder.ensure(source, repository)
        assert first.builder == kind
        assert first.tag == f"{repository}:{first.digest[:16]}"
        assert client.images.get(first.tag).labels[CONTENT_LABEL] == first.digest

        again = builder.ensure(source, repository)
        assert (again.builder, again.tag, again.image_id) == ("reused", first.tag, first.image_id)

        status, output = _run(client, first.tag, ["--help"])  # ENTRYPOINT ["mailstack"]
        assert status == 0 and "healthcheck" in output, output
        probe = "import os, sys, mailstack, psycopg; print(os.getuid(), sys.prefix, mailstack.__file__)"
        status, output = _run(client, first.tag, ["-c", probe], entrypoint=["python"])
        uid, prefix, module = output.split()
        assert (status, uid, prefix) == (0, "10001", "/opt/venv"), output  # the image's Python, not ours
        assert module.startswith("/opt/venv/lib/")
        status, output = _run(client, first.tag, ["healthcheck"])  # nothing listens: unhealthy
        assert status == 1 and "unhealthy" in output, output

        changed = tmp_path / "services"
        shutil.copytree(ROOT / "services", changed, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        (changed / "mailstack" / "build_marker.py").write_text("MARKER = 'rebuilt'\n")
        moved = ImageResolver(fallback_roots=[changed]).resolve(API_IMAGE).source
        rebuilt = builder.ensure(moved, repository)
        assert rebuilt.builder == kind and rebuilt.tag != first.tag
        status, output = _run(client, rebuilt.tag, ["-c", "from mailstack.build_marker import MARKER; print(MARKER)"],
                              entrypoint=["python"])
        assert (status, output.strip()) == (0, "rebuilt")
    finally:
        _remove_repository(client, repository)


def test_the_postgres_base_image_starts_like_the_official_one(client):
    image = _base(client, "postgres")
    container = client.containers.run(
        image, detach=True, ports={"5432/tcp": ("127.0.0.1", None)},
        environment={"POSTGRES_USER": "mail", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "inbox"},
    )
    try:
        deadline = time.monotonic() + 60
        logs = ""
        while "init process complete" not in logs or logs.count("ready to accept connections") < 2:
            assert time.monotonic() < deadline, f"not ready in 60 s:\n{logs}"
            time.sleep(0.2)
            logs = container.logs().decode()
        container.reload()
        port = int(container.ports["5432/tcp"][0]["HostPort"])
        dsn = f"host=127.0.0.1 port={port} dbname=inbox user=mail"
        with psycopg.connect(f"{dsn} password=s3cret") as conn:
            assert conn.execute("select current_user, current_database(), current_setting('server_version_num')"
                                ).fetchone()[:2] == ("mail", "inbox")
            assert conn.execute("select rolsuper from pg_roles where rolname = 'mail'").fetchone() == (True,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"{dsn} password=wrong").close()
        assert container.exec_run("pg_isready -hlocalhost -p5432 -Umail").exit_code == 0
        assert container.exec_run("stat -c %U /proc/1").output.decode().strip() == "postgres"  # PID 1 dropped root
    finally:
        container.remove(force=True, v=True)
