"""From a task definition's image reference to the program a process driver runs.

There is no second list of commands: the Dockerfile of the image is the source of ENTRYPOINT, CMD,
ENV and WORKDIR, exactly what a container runtime would use.

Which Dockerfile builds an image is configuration, keyed by repository:

* the image map (caller-provided) maps a repository name (`mailstack-dev-api`, the part after the
  registry host and before `:tag`/`@digest`), or the full repository path for non-ECR images, to a
  Dockerfile path or an `ImageSource` (Dockerfile, build context, `--target`, build args);
* fallback, when the map has no entry: for repository `a-b-c`, the first existing
  `<root>/c/Dockerfile`, `<root>/b-c/Dockerfile`, `<root>/a-b-c/Dockerfile` under each fallback root
  (the longest matching directory name wins), e.g. `mailstack-dev-api` -> `services/api/Dockerfile`.
  Its build context is the first directory, from the Dockerfile's own up to the fallback root, that holds
  every path the Dockerfile's COPY/ADD instructions read: `services/` for `services/api/Dockerfile`
  (`COPY requirements.txt ./`), the Dockerfile's directory for a self-contained image.

The container lane builds an `ImageSource` into a local image tagged by its content
(`harness.aws.ecs.imagebuild`); the process lane only reads the Dockerfile.

The process's argv follows Docker's rules for ECS overrides: the task's `entryPoint` replaces the
image ENTRYPOINT and then the image CMD is dropped; otherwise the image ENTRYPOINT is kept and the
task's `command` (when set) replaces the image CMD. The first word is then resolved on a PATH that
starts with the harness's venv (`Path(sys.executable).parent`), so `["mailstack", "api"]` runs the
same console script the image installs. An absolute path that does not exist on this machine
(`/app/.venv/bin/mailstack`) is looked up by its basename.

The working directory of a process is the image's build context (by default the Dockerfile's
directory): `COPY . /app` + `WORKDIR /app` make the image's WORKDIR the context, and a relative
`python server.py` finds its file there. WORKDIR and `workingDirectory` are kept for the container driver.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.aws.ecs.dockerfile import ImageConfig, build_inputs, load_dockerfile
from harness.aws.ecs.model import ContainerDefinition
from harness.core.errors import HarnessError


@dataclass(frozen=True)
class ImageReference:
    registry: str  # "" for Docker Hub short names
    repository: str  # path after the registry: "mailstack-dev-api", "library/nginx"
    tag: str = "latest"
    digest: str = ""

    @property
    def name(self) -> str:
        """The last path segment of the repository (the ECR repository name when it has no slash)."""
        return self.repository.rsplit("/", 1)[-1]


def parse_image(image: str) -> ImageReference:
    """Split `<registry>/<repository>[:tag][@digest]` (ECR: `<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`)."""
    rest, _, digest = image.partition("@")
    registry = ""
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    repository, tag = rest, "latest"
    last_colon = rest.rfind(":")
    if last_colon > rest.rfind("/"):
        repository, tag = rest[:last_colon], rest[last_colon + 1 :]
    if not repository:
        raise HarnessError(f"invalid image reference {image!r}", "use <registry>/<repository>:<tag>")
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


@dataclass(frozen=True)
class ImageSource:
    """How an image is built: which Dockerfile, which context, which stage, which build args."""

    dockerfile: Path
    context: Path | None = None  # default: the Dockerfile's directory
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)

    @property
    def context_dir(self) -> Path:
        return self.context if self.context is not None else self.dockerfile.parent


@dataclass(frozen=True)
class ResolvedImage:
    image: str
    source: ImageSource
    config: ImageConfig
    via: str  # "image map" or "fallback <root>"


ImageMapValue = ImageSource | str | Path


class ImageResolver:
    """image reference -> `ResolvedImage` (Dockerfile parsed once per source)."""

    def __init__(
        self, image_map: Mapping[str, ImageMapValue] | None = None, fallback_roots: Iterable[Path | str] = ()
    ) -> None:
        self.image_map: dict[str, ImageSource] = {
            key: value if isinstance(value, ImageSource) else ImageSource(Path(value))
            for key, value in (image_map or {}).items()
        }
        self.fallback_roots = tuple(Path(root) for root in fallback_roots)
        self._configs: dict[tuple[Path, str | None, tuple[tuple[str, str], ...]], ImageConfig] = {}

    def _mapped(self, ref: ImageReference) -> ImageSource | None:
        for key in (ref.repository, ref.name, f"{ref.registry}/{ref.repository}" if ref.registry else ""):
            if key and key in self.image_map:
                return self.image_map[key]
        return None

    def _fallback(self, ref: ImageReference) -> tuple[ImageSource, Path] | None:
        parts = ref.name.split("-")
        suffixes = ["-".join(parts[i:]) for i in range(len(parts))]  # longest first
        for root in self.fallback_roots:
            for suffix in suffixes:
                candidate = root / suffix / "Dockerfile"
                if candidate.is_file():
                    return ImageSource(candidate, context=infer_context(candidate, root)), root
        return None

    def resolve(self, image: str) -> ResolvedImage:
        ref = parse_image(image)
        source = self._mapped(ref)
        via = "image map"
        if source is None:
            found = self._fallback(ref)
            if found is None:
                roots = ", ".join(str(r) for r in self.fallback_roots) or "none configured"
                raise HarnessError(
                    f"no Dockerfile for image {image!r} (repository {ref.name!r}): not in the image map,"
                    f" and no <root>/<repository suffix>/Dockerfile under the fallback roots ({roots})",
                    f"map it: image_map={{{ref.name!r}: 'path/to/Dockerfile'}}",
                )
            source, root = found
            via = f"fallback {root}"
        key = (source.dockerfile, source.target, tuple(sorted(source.build_args.items())))
        config = self._configs.get(key)
        if config is None:
            config = load_dockerfile(source.dockerfile, source.target, source.build_args)
            self._configs[key] = config
        return ResolvedImage(image=image, source=source, config=config, via=via)


def infer_context(dockerfile: Path, limit: Path) -> Path:
    """The first directory from the Dockerfile's up to `limit` holding every path its COPY/ADD read (globs
    match at least one file); the Dockerfile's directory when none does (the build then names what is missing)."""
    try:
        sources = build_inputs(dockerfile.read_text(), source=str(dockerfile)).copy_sources
    except (OSError, HarnessError):
        return dockerfile.parent
    if not sources:
        return dockerfile.parent
    candidates = [dockerfile.parent]
    if dockerfile.parent.is_relative_to(limit):
        candidates += [p for p in dockerfile.parent.parents if p.is_relative_to(limit)]
    for directory in candidates:
        if all(_exists(directory, source) for source in sources):
            return directory
    return dockerfile.parent


def _exists(directory: Path, source: str) -> bool:
    relative = source.lstrip("/") or "."
    if any(char in relative for char in "*?["):
        return next(directory.glob(relative), None) is not None
    return (directory / relative).exists()


def harness_path(base: str | None = None) -> str:
    """PATH with the harness's venv first: `Path(sys.executable).parent`, then `base` (default: ours)."""
    venv_bin = str(Path(sys.executable).parent)
    rest = [p for p in (base if base is not None else os.environ.get("PATH", "")).split(os.pathsep) if p]
    return os.pathsep.join([venv_bin, *[p for p in rest if p != venv_bin]])


def container_argv(container: ContainerDefinition, image: ImageConfig) -> list[str]:
    """Docker's merge of the task's entryPoint/command overrides with the image ENTRYPOINT/CMD."""
    if container.entry_point:
        argv = [*container.entry_point, *(container.command or ())]
    else:
        command = container.command if container.command is not None else image.cmd
        argv = [*image.entrypoint, *command]
    if not argv:
        raise HarnessError(
            f"container {container.name!r} has nothing to run: no entryPoint/command in the task definition"
            " and no ENTRYPOINT/CMD in its Dockerfile",
            "add ENTRYPOINT or CMD to the Dockerfile",
        )
    return argv


def resolve_program(argv: Sequence[str], path: str, cwd: Path | None = None) -> list[str]:
    """argv with its first word turned into an existing executable, looked up on `path`."""
    program = argv[0]
    if "/" in program:
        candidate = Path(program) if Path(program).is_absolute() or cwd is None else cwd / program
        if candidate.exists():
            return [str(candidate), *argv[1:]]
        if not Path(program).is_absolute():
            raise HarnessError(f"{program} not found in {cwd}", "fix ENTRYPOINT or the image's build context")
        program = Path(program).name  # a path inside the image: try the same program on this machine
    found = shutil.which(program, path=path)
    if found is None:
        raise HarnessError(
            f"{argv[0]!r} (first word of {list(argv)}) is not on the harness PATH",
            f"install it into the harness venv ({Path(sys.executable).parent}) or on PATH",
        )
    return [found, *argv[1:]]
