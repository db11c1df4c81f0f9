"""Read the runtime configuration of an image out of its Dockerfile, without building it.

`parse_dockerfile(text, target=None, build_args=None)` returns the `ImageConfig` (ENTRYPOINT, CMD,
ENV, WORKDIR, EXPOSE, USER, LABEL) of the final stage, or of the stage named `target` (like
`docker build --target`). What Docker does and this parser follows:

* parser directives (`# escape=`` ` ``), line continuations, comments, heredocs (`RUN <<EOF`);
* exec form (`["mailstack"]`) kept as is; shell form (`mailstack api`) becomes `SHELL + [line]`
  (default `["/bin/sh", "-c"]`);
* a stage `FROM <earlier stage>` inherits that stage's configuration; setting ENTRYPOINT clears a CMD
  inherited from the parent (a CMD of the same stage, before or after, stays);
* `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` (and `-`, `+`) from ARG and ENV in ENV, WORKDIR,
  EXPOSE, USER, LABEL and FROM; never in exec-form ENTRYPOINT/CMD; a relative WORKDIR joins the previous.

What it cannot know: the configuration of an external base image (`FROM python:3.12-slim` gives its
CMD `python3` in Docker); a stage built on one starts from nothing here.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core.errors import HarnessError

DEFAULT_SHELL = ("/bin/sh", "-c")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ImageConfig:
    """The part of an image's config that decides how a container runs."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    expose: tuple[str, ...] = ()  # "8080/tcp"
    user: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    shell: tuple[str, ...] = DEFAULT_SHELL
    base_image: str = ""  # the external image the stage chain starts from
    stage: str = ""  # the stage's name, or its index when unnamed

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    @property
    def exposed_ports(self) -> tuple[int, ...]:
        ports: list[int] = []
        for item in self.expose:
            number = item.split("/", 1)[0]
            if number.isdigit():
                ports.append(int(number))
        return tuple(ports)


class DockerfileError(HarnessError):
    """A Dockerfile the harness cannot read the runtime configuration from."""


@dataclass
class _Stage:
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False


# ---------------------------------------------------------------- words and variables
def _find_close(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _variable(text: str, start: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """Expand the variable at text[start] == '$'; returns (value, index after it)."""
    if start + 1 < len(text) and text[start + 1] == "{":
        close = _find_close(text, start + 1)
        if close < 0:
            raise DockerfileError(f"unterminated variable in {text!r}", "close the ${...}")
        body = text[start + 2 : close]
        match = _NAME.match(body)
        if not match:
            raise DockerfileError(f"bad variable ${{{body}}} in {text!r}",
                                  "use ${NAME}, ${NAME:-default} or ${NAME:+alt}")
        name, rest = match.group(0), body[match.end() :]
        value = env.get(name)
        if not rest:
            return value or "", close + 1
        for op in (":-", ":+", "-", "+"):
            if rest.startswith(op):
                word = process_word(rest[len(op) :], env, escape)
                if op == ":-":
                    return (value if value else word), close + 1
                if op == ":+":
                    return (word if value else ""), close + 1
                if op == "-":
                    return (value if value is not None else word), close + 1
                return (word if value is not None else ""), close + 1
        raise DockerfileError(f"unsupported variable modifier in ${{{body}}}", "use :-, :+, - or +")
    match = _NAME.match(text, start + 1)
    if not match:
        return "$", start + 1
    return env.get(match.group(0), ""), match.end()


def _lex(text: str, env: Mapping[str, str], escape: str, split: bool) -> list[str]:
    """Shell-like words: quotes removed, `escape` honoured, variables expanded (not inside '...')."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if split and char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            index += 1
            continue
        in_word = True
        if char == escape and index + 1 < size:
            current.append(text[index + 1])
            index += 2
        elif char == "'":
            end = text.find("'", index + 1)
            end = size if end < 0 else end
            current.append(text[index + 1 : end])
            index = end + 1
        elif char == '"':
            index += 1
            while index < size and text[index] != '"':
                if text[index] == escape and index + 1 < size and text[index + 1] in ('"', "$", escape):
                    current.append(text[index + 1])
                    index += 2
                elif text[index] == "$":
                    value, index = _variable(text, index, env, escape)
                    current.append(value)
                else:
                    current.append(text[index])
                    index += 1
            index += 1
        elif char == "$":
            value, index = _variable(text, index, env, escape)
            current.append(value)
        else:
            current.append(char)
            index += 1
    if in_word:
        words.append("".join(current))
    return words


def split_words(text: str, env: Mapping[str, str] | None = None, escape: str = "\\") -> list[str]:
    return _lex(text, env or {}, escape, split=True)


def process_word(text: str, env: Mapping[str, str] | None = None, escape: str = "\\") -> str:
    words = _lex(text.strip(), env or {}, escape, split=False)
    return words[0] if words else ""


# ---------------------------------------------------------------- instructions
def _logical_lines(text: str) -> tuple[list[tuple[int, str]], str]:
    """(line number, instruction) pairs, continuations joined, comments and heredoc bodies dropped."""
    lines = text.splitlines()
    escape = "\\"
    index = 0
    while index < len(lines):  # parser directives: only before anything else
        match = _DIRECTIVE.match(lines[index].strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
            if escape not in ("\\", "`"):
                raise DockerfileError(f"invalid escape directive {escape!r}", "use # escape=\\ or # escape=`")
        index += 1
    result: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and parts):
            continue  # comments anywhere, blank lines inside a continuation
        if not stripped:
            continue
        if not parts:
            start = index
        if stripped.endswith(escape):
            parts.append(stripped[: -len(escape)])
            continue
        parts.append(stripped)
        line = " ".join(p.strip() for p in parts)
        parts = []
        keyword = line.split(None, 1)[0].upper()
        if keyword in ("RUN", "COPY", "ADD"):
            for heredoc in _HEREDOC.finditer(line):
                strip_tabs, word = heredoc.group(1) == "-", heredoc.group(3)
                while index < len(lines):
                    body = lines[index]
                    index += 1
                    if (body.lstrip("\t") if strip_tabs else body) == word:
                        break
        result.append((start, line))
    if parts:
        line = " ".join(p.strip() for p in parts)
        result.append((start, line))
    return result, escape


def _exec_or_shell(rest: str, shell: tuple[str, ...]) -> tuple[str, ...]:
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    return (*shell, text) if text else ()


def _pairs(rest: str, env: Mapping[str, str], escape: str, what: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` or the legacy `k value with spaces` form of ENV and LABEL."""
    words = split_words(rest, env, escape)
    if not words:
        raise DockerfileError(f"{what} needs at least one key=value", f"write {what} KEY=value")
    if "=" not in rest.split(None, 1)[0]:
        key_and_value = rest.strip().split(None, 1)
        if len(key_and_value) < 2:
            raise DockerfileError(f"{what} {rest.strip()!r} has no value", f"write {what} {rest.strip()}=value")
        return [(key_and_value[0], process_word(key_and_value[1], env, escape))]
    pairs: list[tuple[str, str]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"{what} mixes key=value and bare words in {rest.strip()!r}",
                                  "use key=value throughout")
        pairs.append((key, value))
    return pairs


def _set(items: tuple[tuple[str, str], ...], pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    merged = dict(items)
    merged.update(pairs)
    return tuple(merged.items())


def parse_dockerfile(
    text: str, target: str | None = None, build_args: Mapping[str, str] | None = None, source: str = "Dockerfile"
) -> ImageConfig:
    """The runtime configuration of the final stage (or of the stage named `target`)."""
    lines, escape = _logical_lines(text)
    build_args = dict(build_args or {})
    global_args: dict[str, str] = {}
    stages: list[tuple[str, _Stage]] = []
    stage: _Stage | None = None
    for number, line in lines:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        where = f"{source}:{number}"
        if keyword == "FROM":
            words = [w for w in split_words(rest, global_args, escape) if not w.startswith("--")]
            if not words:
                raise DockerfileError(f"{where}: FROM without an image", "write FROM <image> [AS <name>]")
            image = words[0]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            parent = next((s for n, s in stages if n.lower() == image.lower()), None)
            if parent is not None:
                config = replace(parent.config, stage=name)
            else:
                config = ImageConfig(base_image=image, stage=name)
            stage = _Stage(config=config)
            stages.append((name, stage))
            continue
        if keyword == "ARG":
            for word in split_words(rest, {}, escape):
                key, sep, default = word.partition("=")
                if stage is None:
                    global_args[key] = build_args.get(key, default if sep else global_args.get(key, ""))
                else:
                    fallback = default if sep else global_args.get(key, "")
                    stage.args[key] = build_args.get(key, fallback)
            continue
        if stage is None:
            raise DockerfileError(f"{where}: {keyword} before the first FROM", "start the Dockerfile with FROM")
        config = stage.config
        variables = {**stage.args, **config.env_dict}
        if keyword == "ENV":
            config = replace(config, env=_set(config.env, _pairs(rest, variables, escape, "ENV")))
        elif keyword == "LABEL":
            config = replace(config, labels=_set(config.labels, _pairs(rest, variables, escape, "LABEL")))
        elif keyword == "WORKDIR":
            path = process_word(rest, variables, escape)
            config = replace(config, workdir=posixpath.normpath(posixpath.join(config.workdir, path)))
        elif keyword == "EXPOSE":
            ports = [w if "/" in w else f"{w}/tcp" for w in split_words(rest, variables, escape)]
            config = replace(config, expose=tuple(dict.fromkeys((*config.expose, *ports))))
        elif keyword == "USER":
            config = replace(config, user=process_word(rest, variables, escape))
        elif keyword == "SHELL":
            shell = _exec_or_shell(rest, ())
            if not rest.startswith("[") or not shell:
                raise DockerfileError(f"{where}: SHELL needs the JSON form", 'write SHELL ["/bin/bash", "-c"]')
            config = replace(config, shell=shell)
        elif keyword == "CMD":
            config = replace(config, cmd=_exec_or_shell(rest, config.shell))
            stage.cmd_set = True
        elif keyword == "ENTRYPOINT":
            config = replace(config, entrypoint=_exec_or_shell(rest, config.shell))
            if not stage.cmd_set:
                config = replace(config, cmd=())
        stage.config = config
    if not stages:
        raise DockerfileError(f"{source} has no FROM instruction", "is this a Dockerfile?")
    if target is None:
        return stages[-1][1].config
    for name, found in stages:
        if name.lower() == target.lower():
            return found.config
    names = ", ".join(n for n, _ in stages if not n.isdigit()) or "none"
    raise DockerfileError(f"{source} has no stage named {target!r} (named stages: {names})",
                          "fix the target in the image map")


def load_dockerfile(
    path: Path, target: str | None = None, build_args: Mapping[str, str] | None = None
) -> ImageConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DockerfileError(f"cannot read Dockerfile {path} ({exc.strerror})",
                              "fix the path in the image map") from exc
    return parse_dockerfile(text, target, build_args, source=str(path))


@dataclass(frozen=True)
class BuildInputs:
    """What a build of the Dockerfile depends on besides its context: the ARGs it declares (global and per
    stage), the external images its stages start from (`FROM` naming no earlier stage, ARGs expanded), and the
    context paths its COPY/ADD instructions read (not `--from` a stage or image, not URLs, not heredocs)."""

    declared_args: frozenset[str]
    base_images: tuple[str, ...]
    copy_sources: tuple[str, ...] = ()


def build_inputs(text: str, build_args: Mapping[str, str] | None = None, source: str = "Dockerfile") -> BuildInputs:
    lines, escape = _logical_lines(text)
    build_args = dict(build_args or {})
    declared: set[str] = set()
    global_args: dict[str, str] = {}
    stages: list[str] = []
    bases: list[str] = []
    sources: list[str] = []
    for number, line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword in ("COPY", "ADD"):
            sources.extend(s for s in _copy_sources(rest, escape) if s not in sources)
        elif keyword == "ARG":
            for word in split_words(rest, {}, escape):
                key, sep, default = word.partition("=")
                declared.add(key)
                if not stages:
                    global_args[key] = build_args.get(key, default if sep else global_args.get(key, ""))
        elif keyword == "FROM":
            words = [w for w in split_words(rest, global_args, escape) if not w.startswith("--")]
            if not words:
                raise DockerfileError(f"{source}:{number}: FROM without an image", "write FROM <image> [AS <name>]")
            image = words[0]
            if image.lower() not in stages and image.lower() != "scratch" and image not in bases:
                bases.append(image)
            stages.append(words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else str(len(stages)))
    return BuildInputs(declared_args=frozenset(declared), base_images=tuple(bases), copy_sources=tuple(sources))


def _copy_sources(rest: str, escape: str) -> list[str]:
    text = rest.strip()
    flags: list[str] = []
    while text.startswith("--"):
        flag, _, text = text.partition(" ")
        flags.append(flag)
        text = text.strip()
    if any(flag.startswith("--from=") for flag in flags) or _HEREDOC.search(text):
        return []
    words: list[str] | None = None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            words = value
    if words is None:
        words = split_words(text, {}, escape)
    return [w for w in words[:-1] if "://" not in w and not w.startswith("git@")]
