"""The environment of one container process, assembled like ECS + the local-cloud wiring.

Layers, later ones win:

1. emulator and platform: `harness.core.clients.emulator_env` (endpoint, credentials, region) and
   `AWS_EXECUTION_ENV=AWS_ECS_FARGATE`;
2. the image's ENV (from its Dockerfile), except PATH;
3. the container's `environmentFiles` (S3 objects of KEY=VALUE lines), then its `environment`, then
   its resolved `secrets` (ECS's own order);
4. forced: `AWS_ENDPOINT_URL` and the credentials again (a task must never reach real AWS), the
   task's address in `BIND_HOST` (the awsvpc ENI IP it would have), and PATH with the harness
   venv first (`harness.aws.ecs.images.harness_path`);
5. the RDS rewrite (`harness.aws.rds.rewrite`) over the result;
6. `EcsRunner(environment_overrides=...)`, applied by the runner over every container's result: what the
   platform trusts on AWS and must trust here instead (e.g. the emulator's SNS signer,
   `harness.aws.sns.trust`).

A process also inherits the harness's own environment underneath all of this (`ManagedProcess`
always does); a container would not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.aws.ecs.dockerfile import ImageConfig
from harness.aws.ecs.images import harness_path
from harness.aws.ecs.model import ContainerDefinition, EnvironmentFile
from harness.aws.rds.binding import RdsBinding
from harness.aws.rds.rewrite import rewrite_rds_endpoints
from harness.core.errors import HarnessError

EXECUTION_ENV = {"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}
FORCED_EMULATOR_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
BIND_HOST_VAR = "BIND_HOST"


@dataclass
class ContainerEnvironment:
    env: dict[str, str]
    rds_rewritten: dict[str, str] = field(default_factory=dict)  # variable -> RDS instance identifier


def parse_env_file(text: str) -> dict[str, str]:
    """ECS environment files: one VAR=VALUE per line, `#` comments, no quoting, no expansion."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep and name.strip():
            values[name.strip()] = value
    return values


def read_environment_files(s3: Any, files: Iterable[EnvironmentFile]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in files:
        if item.type != "s3" or not item.value.startswith("arn:") or ":::" not in item.value:
            raise HarnessError(f"environment file {item.value!r} is not an S3 object ARN",
                               "use arn:aws:s3:::<bucket>/<key>")
        bucket, _, key = item.value.split(":::", 1)[1].partition("/")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except Exception as exc:
            raise HarnessError(f"ResourceInitializationError: cannot read environment file {item.value}: {exc}",
                               "check the object exists in the emulated S3") from exc
        values.update(parse_env_file(body))
    return values


def build_environment(
    container: ContainerDefinition,
    image: ImageConfig,
    *,
    emulator: Mapping[str, str],
    secrets: Mapping[str, str],
    env_files: Mapping[str, str] | None = None,
    bindings: Sequence[RdsBinding] = (),
    bind_host: str | None = None,
    bind_host_var: str = BIND_HOST_VAR,
) -> ContainerEnvironment:
    env: dict[str, str] = {**emulator, **EXECUTION_ENV}
    env.update({k: v for k, v in image.env if k != "PATH"})
    env.update(env_files or {})
    env.update(dict(container.environment))
    env.update(secrets)
    env.update({k: emulator[k] for k in FORCED_EMULATOR_KEYS if k in emulator})
    if bind_host is not None:
        env[bind_host_var] = bind_host
    env["PATH"] = harness_path()
    rewritten = rewrite_rds_endpoints(env, bindings)
    return ContainerEnvironment(env=rewritten.env, rds_rewritten=rewritten.rewritten)
