"""Dockerfile -> runtime configuration, the way Docker would build it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.aws.ecs.dockerfile import DEFAULT_SHELL, DockerfileError, parse_dockerfile, split_words

DATA = Path(__file__).parent / "data"


def test_exec_form_entrypoint_and_cmd():
    config = parse_dockerfile('FROM python:3.12-slim\nENTRYPOINT ["mailstack"]\nCMD ["api"]\n')
    assert config.entrypoint == ("mailstack",)
    assert config.cmd == ("api",)
    assert config.base_image == "python:3.12-slim"


def test_shell_form_uses_the_shell():
    config = parse_dockerfile("FROM alpine\nENTRYPOINT mailstack --verbose\nCMD exec worker\n")
    assert config.entrypoint == (*DEFAULT_SHELL, "mailstack --verbose")
    assert config.cmd == (*DEFAULT_SHELL, "exec worker")


def test_shell_instruction_changes_the_shell_form():
    config = parse_dockerfile('FROM debian\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nCMD run it\n')
    assert config.cmd == ("/bin/bash", "-o", "pipefail", "-c", "run it")


def test_invalid_json_falls_back_to_shell_form():
    config = parse_dockerfile("FROM alpine\nCMD [not json\n")
    assert config.cmd == (*DEFAULT_SHELL, "[not json")


def test_env_forms_quotes_and_substitution():
    text = """FROM alpine
ENV A=1 B="two words" C='$A literal'
ENV D=${A}-$B E=${MISSING:-fallback} F=${A:+set}
ENV LEGACY value with spaces
ENV A=changed G=$A
"""
    env = parse_dockerfile(text).env_dict
    assert env["B"] == "two words"
    assert env["C"] == "$A literal"
    assert env["D"] == "1-two words"
    assert env["E"] == "fallback"
    assert env["F"] == "set"
    assert env["LEGACY"] == "value with spaces"
    assert env["A"] == "changed"
    assert env["G"] == "1"  # same instruction sees the value from before it, like Docker


def test_workdir_relative_joins_and_expose_defaults_to_tcp():
    config = parse_dockerfile("FROM alpine\nWORKDIR /srv\nWORKDIR app\nENV P=9000\nEXPOSE 8080 $P/udp 8080/tcp\n")
    assert config.workdir == "/srv/app"
    assert config.expose == ("8080/tcp", "9000/udp")
    assert config.exposed_ports == (8080, 9000)


def test_multi_stage_final_stage_inherits_from_earlier_stage():
    text = """ARG PY=3.12
FROM python:${PY}-slim AS base
ENV SHARED=yes
WORKDIR /app
ENTRYPOINT ["base-entry"]

FROM golang:1.22 AS builder
ENTRYPOINT ["go"]
CMD ["build"]

FROM base AS final
CMD ["serve"]
"""
    config = parse_dockerfile(text)
    assert config.stage == "final"
    assert config.base_image == "python:3.12-slim"
    assert config.env_dict == {"SHARED": "yes"}
    assert config.workdir == "/app"
    assert config.entrypoint == ("base-entry",)
    assert config.cmd == ("serve",)
    builder = parse_dockerfile(text, target="BUILDER")  # stage names are case-insensitive
    assert builder.entrypoint == ("go",)
    assert builder.cmd == ("build",)


def test_entrypoint_clears_inherited_cmd_but_not_its_own():
    text = (
        'FROM alpine AS a\nCMD ["inherited"]\n'
        'FROM a AS b\nENTRYPOINT ["e"]\n'
        'FROM a AS c\nCMD ["own"]\nENTRYPOINT ["e"]\n'
    )
    assert parse_dockerfile(text, target="b").cmd == ()
    assert parse_dockerfile(text, target="c").cmd == ("own",)


def test_build_args_override_defaults():
    text = "ARG MODE=prod\nFROM alpine\nARG MODE\nARG PORT=80\nENV MODE=$MODE PORT=$PORT\n"
    assert parse_dockerfile(text).env_dict == {"MODE": "prod", "PORT": "80"}
    assert parse_dockerfile(text, build_args={"MODE": "dev", "PORT": "81"}).env_dict == {"MODE": "dev", "PORT": "81"}


def test_continuations_comments_and_heredocs():
    text = """# a comment
FROM alpine
RUN <<EOF
ENTRYPOINT ["not", "an", "instruction"]
EOF
RUN apt-get update \\
    # a comment inside a continuation
    && apt-get install -y curl
CMD ["python", \\
     "-m", "app"]
"""
    config = parse_dockerfile(text)
    assert config.entrypoint == ()
    assert config.cmd == ("python", "-m", "app")


def test_escape_directive_backtick():
    text = '# escape=`\nFROM mcr.microsoft.com/windows\nENV P=C:\\app\nCMD ["a", `\n "b"]\n'
    config = parse_dockerfile(text)
    assert config.cmd == ("a", "b")
    assert config.env_dict["P"] == "C:\\app"


def test_errors_name_the_problem():
    with pytest.raises(DockerfileError, match="no FROM"):
        parse_dockerfile("# nothing\n")
    with pytest.raises(DockerfileError, match="before the first FROM"):
        parse_dockerfile("ENV A=1\nFROM alpine\n")
    with pytest.raises(DockerfileError, match=r"no stage named 'nope'.*named stages: base"):
        parse_dockerfile("FROM alpine AS base\nFROM base\n", target="nope")


def test_split_words_like_a_shell():
    assert split_words('a "b c" \'d $X\' $X\\ y', {"X": "x"}) == ["a", "b c", "d $X", "x y"]


def test_the_test_image_dockerfile():
    config = parse_dockerfile((DATA / "echo" / "Dockerfile").read_text())
    assert config.entrypoint == ("python", "echo_server.py")
    assert config.cmd == ("serve",)
    assert config.env_dict == {"PYTHONUNBUFFERED": "1", "APP_HOME": "/app"}
    assert config.workdir == "/app"
    assert config.exposed_ports == (8080,)
