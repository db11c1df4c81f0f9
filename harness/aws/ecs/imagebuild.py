"""Build an `ImageSource` (the image map's Dockerfile, context, target, build args) into a local image tagged by
its content, `<repository>:<first 16 hex of the content digest>`, and reuse that image while nothing it is
built from changed (`harness.aws.ecs.imagedigest`): an unchanged service is never rebuilt.

The image carries the full digest as the label `org.mailstack.content-digest`; a tag whose label differs is
rebuilt. Builder: BuildKit through the docker CLI when one can (`docker buildx`, or a CLI older than 23 with
`DOCKER_BUILDKIT=1`, which uses the engine's own BuildKit), else the classic builder through the Docker SDK.

`python -m harness.aws.ecs.imagebuild [--root services] [NAME ...]` builds the service images
(`<root>/<name>/Dockerfile`, the same fallback the image map uses), with `BASE_IMAGE` set to the base image
this machine has (`harness.aws.ecs.baseimages.choose`) unless `--build-arg` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import docker
import docker.errors

from harness.aws.ecs.dockerfile import build_inputs
from harness.aws.ecs.imagedigest import content_digest
from harness.aws.ecs.images import ImageSource, infer_context
from harness.core.errors import HarnessError

CONTENT_LABEL = "org.mailstack.content-digest"
TAG_LENGTH = 16
LOCAL_REGISTRY = "mailstack-local"
log = logging.getLogger("harness.images")


class ImageBuildError(HarnessError):
    """An image that did not build: the problem names the image and ends with the builder's last lines."""


def docker_client() -> docker.DockerClient:
    """A client of the engine DOCKER_HOST (or the default socket) names, or a HarnessError saying how to get one."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise HarnessError(
            f"no Docker engine answers ({exc})",
            "start one: scripts/docker-engine (as root it installs and starts Debian's docker.io)",
        ) from None
    return client


def local_repository(name: str) -> str:
    """Where the harness keeps the image it built for repository `name`: `mailstack-local/<name>`."""
    return f"{LOCAL_REGISTRY}/{name}"


@dataclass(frozen=True)
class BuildPlan:
    """What `ensure` builds: the tag and digest follow from the source, the args and the base images' IDs."""

    source: ImageSource
    context: Path
    build_args: Mapping[str, str]
    base_ids: Mapping[str, str]
    digest: str
    tag: str


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    digest: str
    builder: str  # "reused", "buildkit" or "classic"
    seconds: float

    @property
    def built(self) -> bool:
        return self.builder != "reused"


def effective_build_args(
    dockerfile_text: str, defaults: Mapping[str, str], given: Mapping[str, str]
) -> dict[str, str]:
    """The build args of a build: `given` (the image map's), plus each default the Dockerfile declares an ARG for.
    A default the Dockerfile does not declare is left out, so it changes neither the build nor its tag."""
    declared = build_inputs(dockerfile_text).declared_args
    return {**{k: v for k, v in defaults.items() if k in declared}, **given}


def buildkit_command(docker_cli: str | None = None) -> tuple[list[str], dict[str, str]] | None:
    """argv prefix and environment of a docker CLI that builds with BuildKit, or None when there is none."""
    candidates = [docker_cli] if docker_cli else _clis_on_path()
    for cli in candidates:
        if _quiet([cli, "buildx", "version"]):
            return [cli, "buildx", "build", "--load"], {}
    for cli in candidates:
        version = subprocess.run([cli, "version", "--format", "{{.Client.Version}}"], capture_output=True,
                                 text=True, check=False, timeout=30).stdout.strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 23:  # BuildKit built into the CLI; 23+ needs the buildx plugin
            return [cli, "build"], {"DOCKER_BUILDKIT": "1"}
    return None


def _clis_on_path() -> list[str]:
    found: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / "docker"
        if candidate.is_file() and os.access(candidate, os.X_OK) and str(candidate.resolve()) not in found:
            found.append(str(candidate.resolve()))
    return found


def _quiet(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class ImageBuilder:
    """Builds image sources into content-tagged local images, reusing what is already built.

    `default_args` are build args given to a Dockerfile that declares them and whose source does not set them
    (the container lane passes `BASE_IMAGE` this way). `buildkit`: True requires it, False never uses it,
    None (default) uses it when a docker CLI offers it.
    """

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        default_args: Mapping[str, str] | None = None,
        buildkit: bool | None = None,
        output: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client or docker_client()
        self.default_args = dict(default_args or {})
        self.output = output or (lambda line: log.debug("%s", line))
        self._buildkit = buildkit_command() if buildkit is not False else None
        if buildkit and self._buildkit is None:
            raise HarnessError("BuildKit was asked for but no docker CLI offers it (no `docker buildx`, no CLI < 23)",
                               "install the buildx plugin, or let the classic builder build (buildkit=None)")

    @property
    def builder(self) -> str:
        return "buildkit" if self._buildkit else "classic"

    def image_id(self, reference: str) -> str | None:
        try:
            return str(self.client.images.get(reference).id)
        except docker.errors.ImageNotFound:
            return None

    def plan(self, source: ImageSource, repository: str) -> BuildPlan:
        text = source.dockerfile.read_text()
        args = effective_build_args(text, self.default_args, source.build_args)
        bases = build_inputs(text, args, source=str(source.dockerfile)).base_images
        base_ids = {base: self.image_id(base) or "" for base in bases}  # "": pulled when built
        context = source.context_dir
        digest = content_digest(source.dockerfile, context, source.target, args, base_ids)
        return BuildPlan(source, context, args, base_ids, digest, f"{repository}:{digest[:TAG_LENGTH]}")

    def ensure(self, source: ImageSource, repository: str, tags: Sequence[str] = ()) -> BuiltImage:
        """The image of `source` tagged `<repository>:<content tag>` (and `tags`): reused when present, else built."""
        started = time.monotonic()
        plan = self.plan(source, repository)
        builder = "reused"
        existing = self._labelled(plan.tag, plan.digest)
        if existing is None:
            missing = [base for base, image_id in plan.base_ids.items() if not image_id]
            if missing:
                self.output(f"base image(s) {', '.join(missing)} not here: the build pulls them")
            builder = self.builder
            if self._buildkit:
                self._build_buildkit(plan)
            else:
                self._build_classic(plan)
            existing = self._labelled(plan.tag, plan.digest)
            if existing is None:
                raise ImageBuildError(f"{plan.tag}: the build ended but the image is not there",
                                      "look at the engine's log")
        image = self.client.images.get(plan.tag)
        for extra in tags:
            repo, _, tag = extra.rpartition(":") if ":" in extra.rsplit("/", 1)[-1] else (extra, "", "latest")
            image.tag(repo, tag)
        return BuiltImage(plan.tag, existing, plan.digest, builder, round(time.monotonic() - started, 2))

    def _labelled(self, tag: str, digest: str) -> str | None:
        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None
        return str(image.id) if (image.labels or {}).get(CONTENT_LABEL) == digest else None

    def _failure(self, plan: BuildPlan, lines: Sequence[str], what: str) -> ImageBuildError:
        tail = "\n".join(f"  {line}" for line in lines[-25:])
        return ImageBuildError(
            f"{plan.tag} ({plan.source.dockerfile}, context {plan.context}) did not build: {what}\n{tail}",
            "fix the Dockerfile or its context; a base image no registry serves comes from scripts/base-images",
        )

    def _build_classic(self, plan: BuildPlan) -> None:
        dockerfile = plan.source.dockerfile.resolve()
        context = plan.context.resolve()
        name = dockerfile.relative_to(context).as_posix() if dockerfile.is_relative_to(context) else str(dockerfile)
        lines: list[str] = []
        stream: Iterator[dict[str, object]] = self.client.api.build(
            path=str(context), dockerfile=name, tag=plan.tag, buildargs=dict(plan.build_args),
            target=plan.source.target, labels={CONTENT_LABEL: plan.digest}, rm=True, forcerm=True, decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise self._failure(plan, lines, str(chunk["error"]).strip())
            text = str(chunk.get("stream", "")).rstrip()
            for line in filter(None, text.splitlines()):
                lines.append(line)
                self.output(line)

    def _build_buildkit(self, plan: BuildPlan) -> None:
        assert self._buildkit is not None
        prefix, env = self._buildkit
        argv = [*prefix, "--progress=plain", "-f", str(plan.source.dockerfile), "-t", plan.tag,
                "--label", f"{CONTENT_LABEL}={plan.digest}"]
        for key, value in plan.build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        if plan.source.target:
            argv += ["--target", plan.source.target]
        argv.append(str(plan.context))
        lines: list[str] = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, **env}) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.append(raw.rstrip())
                self.output(raw.rstrip())
        if proc.returncode != 0:
            raise self._failure(plan, lines, f"{prefix[0]} exited with {proc.returncode}")


def service_sources(root: Path, names: Sequence[str] = ()) -> dict[str, ImageSource]:
    """`<root>/<name>/Dockerfile` for every (or each named) service, with the context the image map infers."""
    found = {p.parent.name: p for p in sorted(root.glob("*/Dockerfile"))}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise HarnessError(f"no Dockerfile for {', '.join(unknown)} under {root}",
                           f"choose from {', '.join(found) or 'nothing'}")
    return {name: ImageSource(path, context=infer_context(path, root))
            for name, path in found.items() if not names or name in names}


def main(argv: Sequence[str] | None = None) -> int:
    from harness.aws.ecs.baseimages import choose  # the base images import this module

    parser = argparse.ArgumentParser(prog="python -m harness.aws.ecs.imagebuild", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="services to build (default: every <root>/*/Dockerfile)")
    parser.add_argument("--root", type=Path, default=Path("services"))
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--builder", choices=["auto", "buildkit", "classic"], default="auto")
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the builder's output")
    options = parser.parse_args(argv)
    try:
        client = docker_client()
        args = {"BASE_IMAGE": choose("python", client)}
        args.update(dict(item.split("=", 1) for item in options.build_arg))
        builder = ImageBuilder(
            client, default_args=args, buildkit={"auto": None, "buildkit": True, "classic": False}[options.builder],
            output=(lambda line: print(line, file=sys.stderr)) if options.verbose else None,
        )
        for name, source in service_sources(options.root, options.names).items():
            if builder.image_id(builder.plan(source, local_repository(name)).tag) is None:
                print(f"{name}: building ({builder.builder}, BASE_IMAGE={args['BASE_IMAGE']})", file=sys.stderr)
            built = builder.ensure(source, local_repository(name))
            if options.json:
                print(json.dumps({"name": name, **asdict(built)}))
            else:
                print(f"{name}: {built.tag} ({built.builder}, {built.seconds:.1f} s)")
    except HarnessError as exc:
        print(f"imagebuild: {exc.problem}\n  fix: {exc.fix}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
