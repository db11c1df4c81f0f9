"""The content digest of an image build: what `docker build` would read, hashed, so an unchanged image is
found again by its tag instead of being rebuilt.

Hashed: the Dockerfile's text, the `--target`, the build args, the base images (their local image IDs when
present: a rebuilt base rebuilds what stands on it; the name alone when not, e.g. a registry image not pulled
yet), and every path of the build context that `.dockerignore` lets through (the same matcher as the Docker
SDK's build, so what is ignored there is ignored here), each by its relative path, its kind (file, directory,
symlink), whether it is executable, and its content or link target. Not hashed: timestamps, owners, other
permission bits (what differs between two checkouts of one commit).
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping
from pathlib import Path

from docker.utils.build import exclude_paths

DIGEST_FORMAT = b"mailstack-image-content/1"


def dockerignore_patterns(context: Path) -> list[str]:
    """The patterns of `<context>/.dockerignore`, as Docker reads them (comments and blank lines dropped)."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_paths(context: Path, dockerfile: Path | None = None) -> list[str]:
    """The context's paths (files and directories, relative, sorted) that `.dockerignore` lets through."""
    relative = None
    if dockerfile is not None and dockerfile.resolve().is_relative_to(context.resolve()):
        relative = dockerfile.resolve().relative_to(context.resolve()).as_posix()
    return sorted(exclude_paths(str(context), dockerignore_patterns(context), dockerfile=relative))


class _Hasher:
    def __init__(self) -> None:
        self._hash = hashlib.sha256(DIGEST_FORMAT)

    def field(self, name: str, *values: str | bytes) -> None:
        for value in (name, *values):
            data = value.encode() if isinstance(value, str) else value
            self._hash.update(len(data).to_bytes(8, "big"))
            self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def content_digest(
    dockerfile: Path,
    context: Path,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    base_ids: Mapping[str, str] | None = None,
) -> str:
    """sha256 (hex) of everything a build of `dockerfile` in `context` depends on (see the module doc)."""
    hasher = _Hasher()
    hasher.field("dockerfile", dockerfile.read_bytes())
    hasher.field("target", target or "")
    for key, value in sorted((build_args or {}).items()):
        hasher.field("arg", key, value)
    for image, image_id in sorted((base_ids or {}).items()):
        hasher.field("base", image, image_id)
    for relative in context_paths(context, dockerfile):
        path = context / relative
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            hasher.field("link", relative, str(path.readlink()))
        elif stat.S_ISDIR(info.st_mode):
            hasher.field("dir", relative)
        elif stat.S_ISREG(info.st_mode):
            executable = "x" if info.st_mode & 0o111 else "-"
            hasher.field("file", relative, executable, _file_digest(path))
    return hasher.hexdigest()
