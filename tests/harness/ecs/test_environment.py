"""The container environment: ECS layering, the RDS rewrite, environment files."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.aws.ecs.dockerfile import ImageConfig
from harness.aws.ecs.environment import build_environment, parse_env_file
from harness.aws.ecs.model import ContainerDefinition
from harness.aws.rds.binding import RdsBinding
from harness.aws.rds.rewrite import rewrite_rds_endpoints

EMULATED = "mailstack-dev.c9akciq32.us-east-1.rds.amazonaws.com"


def _binding(identifier="mailstack-dev", host=EMULATED, port=55432, emulated_port=5432) -> RdsBinding:
    return RdsBinding(identifier=identifier, emulated_host=host, emulated_port=emulated_port, host="127.0.0.1",
                      port=port, dbname="mailstack", username="mailstack", master_secret_arn=None,
                      password_known=True)


def test_host_and_its_port_variable_are_rewritten():
    result = rewrite_rds_endpoints({"DB_HOST": EMULATED, "DB_PORT": "5432", "PORT": "8080"}, [_binding()])
    assert result.env == {"DB_HOST": "127.0.0.1", "DB_PORT": "55432", "PORT": "8080"}
    assert set(result.rewritten) == {"DB_HOST", "DB_PORT"}


def test_host_port_inside_urls_is_rewritten():
    env = {"DATABASE_URL": f"postgresql://u:p@{EMULATED}:5432/mailstack", "DB_ADDR": f"{EMULATED}:5432"}
    result = rewrite_rds_endpoints(env, [_binding()])
    assert result.env["DATABASE_URL"] == "postgresql://u:p@127.0.0.1:55432/mailstack"
    assert result.env["DB_ADDR"] == "127.0.0.1:55432"


def test_ports_are_left_alone_when_no_host_matched():
    env = {"DB_HOST": "elsewhere.example", "DB_PORT": "5432"}
    assert rewrite_rds_endpoints(env, [_binding()]).env == env


def test_port_pairs_with_the_host_variable_of_the_same_prefix():
    other = "replica.c9akciq32.us-east-1.rds.amazonaws.com"
    bindings = [_binding(port=55432), _binding("replica", other, port=56543)]
    env = {"DB_HOST": EMULATED, "DB_PORT": "5432", "REPLICA_HOST": other, "REPLICA_PORT": "5432", "X_PORT": "5432"}
    result = rewrite_rds_endpoints(env, bindings)
    assert result.env["DB_PORT"] == "55432"
    assert result.env["REPLICA_PORT"] == "56543"
    assert result.env["X_PORT"] == "5432"  # ambiguous: two real ports -> unchanged


def test_parse_env_file():
    assert parse_env_file("# comment\nA=1\n\nB=x=y\nC=\nnot a pair\n") == {"A": "1", "B": "x=y", "C": ""}


def test_layers_and_forced_values():
    container = ContainerDefinition(
        name="api", image="x", environment=(("LOG_LEVEL", "DEBUG"), ("FROM_IMAGE", "task"), ("DB_PORT", "5432")),
    )
    image = ImageConfig(env=(("FROM_IMAGE", "image"), ("IMAGE_ONLY", "1"), ("PATH", "/app/bin:/usr/bin")))
    emulator = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    built = build_environment(
        container, image, emulator=emulator,
        secrets={"DB_HOST": EMULATED, "AWS_ENDPOINT_URL": "https://real.aws"},
        env_files={"LOG_LEVEL": "INFO", "FILE_ONLY": "f"},
        bindings=[_binding()], bind_host="127.0.0.7",
    )
    env = built.env
    assert env["FROM_IMAGE"] == "task" and env["IMAGE_ONLY"] == "1"
    assert env["LOG_LEVEL"] == "DEBUG" and env["FILE_ONLY"] == "f"  # environment beats environmentFiles
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"  # never real AWS
    assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    assert env["BIND_HOST"] == "127.0.0.7"
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert (env["DB_HOST"], env["DB_PORT"]) == ("127.0.0.1", "55432")
    assert set(built.rds_rewritten) == {"DB_HOST", "DB_PORT"}
