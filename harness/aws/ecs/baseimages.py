"""The base images of the container lane, built from Debian packages where no image registry is reachable.

| name | local tag (built here) | a registry-reachable machine's image |
|---|---|---|
| debian | `mailstack/debian:bookworm` (debootstrap minbase + `docker import`) | (none) |
| python | `mailstack/python:3.11-bookworm` (`images/python`: the services' `BASE_IMAGE`) | `python:3.12-slim` |
| postgres | `mailstack/postgres:15-bookworm` (`images/postgres`: the official image's contract) | `postgres:15` |

`choose(name)` is what the harness runs: the local tag when this engine has it, else the public image (which a
build or `docker run` then pulls). Every step is reused when its inputs did not change: the debootstrap root
file system is a tarball in the user cache dir (`$XDG_CACHE_HOME/mailstack-harness/base-images`), keyed by
suite, architecture, mirror and package list; the imported image carries that key as its content label; the
python and postgres images are content-tagged builds (`harness.aws.ecs.imagebuild`) whose digest covers their
directory, this machine's CA bundle (baked into the python image's trust store) and the imported image's ID.

`python -m harness.aws.ecs.baseimages [build] [NAME ...]` (what `scripts/base-images` runs) builds them;
`python -m harness.aws.ecs.baseimages choose NAME` prints the image to use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import docker
import docker.errors

from harness.aws.ecs.imagebuild import CONTENT_LABEL, BuiltImage, ImageBuilder, docker_client
from harness.aws.ecs.images import ImageSource
from harness.core.errors import HarnessError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
IMAGES_DIR = PROJECT_ROOT / "images"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_REPOSITORY, DEBIAN_TAG = "mailstack/debian", SUITE
DEBIAN_IMAGE = f"{DEBIAN_REPOSITORY}:{DEBIAN_TAG}"
ROOTFS_FORMAT = "1"  # bump when the way the root file system is made changes
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass(frozen=True)
class BaseImage:
    name: str
    local: str  # the tag this machine builds
    public: str  # what a machine that reaches a registry uses instead
    directory: Path  # the Dockerfile and its context
    host_ca_bundle: bool = False  # the build context gets this machine's CA bundle as ca-certificates.crt


BASE_IMAGES: dict[str, BaseImage] = {
    "python": BaseImage("python", "mailstack/python:3.11-bookworm", "python:3.12-slim", IMAGES_DIR / "python",
                        host_ca_bundle=True),
    "postgres": BaseImage("postgres", "mailstack/postgres:15-bookworm", "postgres:15", IMAGES_DIR / "postgres"),
}


def choose(name: str, client: docker.DockerClient | None = None) -> str:
    """The image to use for base `name`: the local build when this engine has it, else the public image."""
    base = _base(name)
    try:
        (client or docker.from_env()).images.get(base.local)
    except docker.errors.ImageNotFound:
        return base.public
    except docker.errors.DockerException:
        return base.public
    return base.local


def _base(name: str) -> BaseImage:
    if name not in BASE_IMAGES:
        raise HarnessError(f"no base image {name!r}", f"choose from {', '.join(BASE_IMAGES)}")
    return BASE_IMAGES[name]


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mailstack-harness" / "base-images"


def host_ca_bundle() -> Path:
    """This machine's CA bundle (SSL_CERT_FILE when set): what pip inside a build must trust to reach PyPI."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), *CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise HarnessError("no CA bundle found (" + ", ".join(CA_BUNDLES) + ")",
                       "install ca-certificates or set SSL_CERT_FILE to the bundle this machine trusts")


def dpkg_architecture() -> str:
    found = shutil.which("dpkg")
    if found is None:
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    return subprocess.run([found, "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class RootFs:
    suite: str = SUITE
    mirror: str = DEFAULT_MIRROR
    arch: str = ""

    @property
    def key(self) -> str:
        text = json.dumps([ROOTFS_FORMAT, self.suite, self.mirror, self.arch or dpkg_architecture(), "minbase"])
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def tarball(self) -> Path:
        return cache_dir() / f"debian-{self.suite}-minbase-{self.key[:16]}.tar"


def ensure_rootfs(rootfs: RootFs, output: Callable[[str], None]) -> tuple[Path, bool]:
    """The cached tarball of a debootstrap minbase root file system, made when missing. (path, made now)"""
    target = rootfs.tarball
    if target.is_file():
        return target, False
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        raise HarnessError(
            f"no cached root file system ({target}) and "
            + ("debootstrap is not installed" if os.geteuid() == 0 else "making one needs root (debootstrap)"),
            "run scripts/base-images as root (it installs debootstrap with apt-get)",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=target.parent) as scratch:
        root = Path(scratch) / "root"
        _run(["debootstrap", "--variant=minbase", f"--arch={rootfs.arch or dpkg_architecture()}", rootfs.suite,
              str(root), rootfs.mirror], output)
        _trim(root, rootfs)
        partial = Path(scratch) / "rootfs.tar"
        _run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial),
              "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "."], output)
        partial.replace(target)  # whole or absent
    return target, True


def _trim(root: Path, rootfs: RootFs) -> None:
    """What an image needs and debootstrap leaves otherwise: apt sources with updates and security, no caches."""
    mirror = rootfs.mirror.rstrip("/")
    security = mirror.rsplit("/", 1)[0] + "/debian-security" if mirror.endswith("/debian") else None
    lines = [f"deb {mirror} {rootfs.suite} main", f"deb {mirror} {rootfs.suite}-updates main"]
    if security:
        lines.append(f"deb {security} {rootfs.suite}-security main")
    (root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
    (root / "etc/apt/apt.conf.d/90mailstack-image").write_text(
        'APT::Install-Recommends "false";\nAcquire::Languages "none";\n'
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
    )
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    for name in ("etc/hostname", "etc/resolv.conf"):  # the engine provides both
        (root / name).unlink(missing_ok=True)


def _run(argv: Sequence[str], output: Callable[[str], None]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in (proc.stdout + proc.stderr).splitlines()[-5:]:
        output(line)
    if proc.returncode != 0:
        raise HarnessError(f"{' '.join(argv[:2])} failed (exit {proc.returncode}): "
                           + " / ".join((proc.stdout + proc.stderr).strip().splitlines()[-5:]),
                           "check the network reaches the Debian mirror (DEBIAN_MIRROR)")


def ensure_debian(client: docker.DockerClient, rootfs: RootFs, progress: Callable[[str], None],
                  output: Callable[[str], None]) -> BuiltImage:
    """`mailstack/debian:bookworm`: the cached root file system imported, reused while its key is the same."""
    started = time.monotonic()
    key = rootfs.key
    try:
        image = client.images.get(DEBIAN_IMAGE)
        if (image.labels or {}).get(CONTENT_LABEL) == key:
            return BuiltImage(DEBIAN_IMAGE, str(image.id), key, "reused", round(time.monotonic() - started, 2))
    except docker.errors.ImageNotFound:
        pass
    if not rootfs.tarball.is_file():
        progress(f"debootstrap --variant=minbase {rootfs.suite} from {rootfs.mirror} (cached in {rootfs.tarball})")
    tarball, made = ensure_rootfs(rootfs, output)
    progress(f"docker import {tarball} ({'made now' if made else 'cached'})")
    changes = [f"LABEL {CONTENT_LABEL}={key}", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               'CMD ["bash"]']
    client.api.import_image_from_file(str(tarball), repository=DEBIAN_REPOSITORY, tag=DEBIAN_TAG, changes=changes)
    image = client.images.get(DEBIAN_IMAGE)
    return BuiltImage(DEBIAN_IMAGE, str(image.id), key, "import", round(time.monotonic() - started, 2))


def ensure_base(builder: ImageBuilder, name: str) -> BuiltImage:
    """Base `name` built on `mailstack/debian`, content-tagged and tagged with its stable local name."""
    base = _base(name)
    repository = base.local.rsplit(":", 1)[0]
    with tempfile.TemporaryDirectory(prefix=f"base-{name}-") as scratch:
        context = Path(scratch) / name
        shutil.copytree(base.directory, context)
        if base.host_ca_bundle:
            shutil.copyfile(host_ca_bundle(), context / "ca-certificates.crt")
        source = ImageSource(context / "Dockerfile", context=context, build_args={"BASE_IMAGE": DEBIAN_IMAGE})
        return builder.ensure(source, repository, tags=[base.local])


def build(names: Sequence[str] = (), *, mirror: str = DEFAULT_MIRROR, buildkit: bool | None = None,
          progress: Callable[[str], None] = print, output: Callable[[str], None] | None = None,
          client: docker.DockerClient | None = None) -> dict[str, BuiltImage]:
    """Make sure this engine has the base images (`names`, default all), each reused when unchanged, else built.
    `progress` gets one line per step, `output` (default: nowhere) what debootstrap and the builder print."""
    for name in names:
        _base(name)
    client = client or docker_client()
    quiet = output or (lambda line: None)
    built = {"debian": ensure_debian(client, RootFs(mirror=mirror), progress, quiet)}
    builder = ImageBuilder(client, buildkit=buildkit, output=quiet)
    for name in names or BASE_IMAGES:
        progress(f"{name}: {BASE_IMAGES[name].local} ({builder.builder} builder unless up to date)")
        built[name] = ensure_base(builder, name)
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.aws.ecs.baseimages", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the base images (the default command)")
    build_parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(BASE_IMAGES)} (default: all)")
    build_parser.add_argument("--mirror", default=os.environ.get("DEBIAN_MIRROR", DEFAULT_MIRROR))
    build_parser.add_argument("--builder", choices=["auto", "buildkit", "classic"], default="auto")
    build_parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    build_parser.add_argument("-v", "--verbose", action="store_true",
                              help="print debootstrap's and the builder's output")
    choose_parser = commands.add_parser("choose", help="print the image to use for a base")
    choose_parser.add_argument("name", choices=list(BASE_IMAGES))
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("build", "choose", "-h", "--help"):
        args.insert(0, "build")
    options = parser.parse_args(args)

    def err(line: str) -> None:
        print(f"base-images: {line}", file=sys.stderr)

    try:
        if options.command == "choose":
            print(choose(options.name))
            return 0
        built = build(options.names, mirror=options.mirror,
                      buildkit={"auto": None, "buildkit": True, "classic": False}[options.builder],
                      progress=err,
                      output=(lambda line: print(f"  {line}", file=sys.stderr)) if options.verbose else None)
    except HarnessError as exc:
        err(f"{exc.problem}\n  fix: {exc.fix}")
        return 1
    for name, image in built.items():
        if options.json:
            print(json.dumps({"name": name, **asdict(image)}))
        else:
            local = BASE_IMAGES[name].local if name in BASE_IMAGES else image.tag
            print(f"{name}: {local} = {image.tag} ({image.builder}, {image.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
