"""Harness settings: environment variables (``HARNESS_*``) and CLI flags, never code edits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from harness.core.errors import SettingsError

ENV_PREFIX = "HARNESS_"
# What the scenarios are tuned for: AWS's timers (health checks, alarm periods, ECS backoff, deregistration
# delays) run five times faster. One default for `harness up`, `harness demo` and pytest, so they share a stack.
DEFAULT_TIME_SCALE = 5.0


class Backend(StrEnum):
    """Which emulated AWS the stack talks to."""

    MOTO = "moto"  # a patched moto server the harness starts (default)
    ENDPOINT = "endpoint"  # any AWS-compatible endpoint someone else runs (LocalStack, a shared moto, ...)


class EcsDriver(StrEnum):
    """What runs the ECS tasks' containers."""

    PROCESS = "process"  # each container a local process (harness.aws.ecs.drivers.ProcessDriver)
    CONTAINER = "container"  # a Docker container of the image built from its Dockerfile (issue 11, in progress)


CONTAINER_DRIVER_PENDING = (
    "the container driver is not available yet (scripts/bootstrap prepares its Docker engine and base images);"
    " unset HARNESS_ECS_DRIVER to run the tasks as processes"
)


class HarnessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    project_dir: Path = Field(default_factory=Path.cwd, description="repository root")
    run_dir: Path = Field(default=Path(".harness"), description="state of the running stack")
    terraform_dir: Path = Field(default=Path("terraform"), description="the root module to apply")
    services_dir: Path = Field(default=Path("services"), description="the service images (Dockerfiles + code)")
    terraform_var_files: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="-var-file arguments"
    )
    terraform: str = Field(default="terraform", description="terraform binary (name or path)")
    terraform_mirror: Path | None = Field(default=None, description="provider filesystem mirror")
    terraform_parallelism: int = Field(default=40, ge=1)
    backend: Backend = Backend.MOTO
    aws_endpoint_url: str | None = Field(default=None, description="for backend=endpoint")
    region: str = Field(default="us-east-1", description="must match the Terraform's provider region")
    postgres_bin_dir: Path | None = Field(default=None, description="directory holding initdb/pg_ctl")
    host: str = "127.0.0.1"
    time_scale: float = Field(default=DEFAULT_TIME_SCALE, gt=0,
                              description="divides every AWS-declared duration (harness.core.clock)")
    smtp_port: int | None = Field(default=None, ge=1, le=65535,
                                  description="SES inbound MX port (default: a free one)")
    run_before_services: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="task definitions to run once before the services (besides tagged ones)"
    )
    runtime: bool = Field(default=True, description="run the data plane (ECS tasks, ALB, SES inbound)")
    ecs_driver: EcsDriver = Field(default=EcsDriver.PROCESS, description="what runs the ECS tasks' containers")
    boot_timeout: float = Field(default=300.0, gt=0)
    snapshots: bool = Field(default=True, description="restore a cold boot from a snapshot, and save one after it")
    snapshot_dir: Path | None = Field(default=None, description="the snapshot store (default: the XDG cache dir)")
    snapshot_max_bytes: int = Field(default=4 * 1024**3, ge=0, description="the store's size cap (LRU pruning)")

    @field_validator("terraform_var_files", "run_before_services", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """The environment gives lists as JSON text; anything else is passed on as it is."""
        if not isinstance(value, str):
            return value
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, list):
            raise ValueError('a JSON list is required, e.g. \'["a.tfvars", "b.tfvars"]\'')
        return decoded

    @field_validator("ecs_driver")
    @classmethod
    def _driver_is_available(cls, value: EcsDriver) -> EcsDriver:
        if value is EcsDriver.CONTAINER:  # refused, not ignored: the stack does not pass it to the data plane yet
            raise ValueError(CONTAINER_DRIVER_PENDING)
        return value

    @field_validator("run_dir")
    @classmethod
    def _run_dir_is_a_directory(cls, value: Path, info: ValidationInfo) -> Path:
        project = info.data.get("project_dir") or Path.cwd()
        path = value if value.is_absolute() else project / value
        for candidate in (path, *path.parents):
            if candidate.exists():
                if not candidate.is_dir():
                    where = "that" if candidate == path else str(candidate)
                    raise ValueError(f"{where} is a file; a directory is required (the run directory holds the "
                                     "stack's state)")
                break
        return value

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.project_dir / path).resolve()

    @property
    def run_path(self) -> Path:
        return self.resolve(self.run_dir)

    @property
    def terraform_path(self) -> Path:
        return self.resolve(self.terraform_dir)


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(
    overrides: Mapping[str, Any] | None = None, flags: Mapping[str, str] | None = None
) -> HarnessSettings:
    """HarnessSettings from the environment and `overrides`, or a SettingsError with one line per problem.

    `flags` names the command-line option each override came from (e.g. ``run_dir`` → ``--run-dir``), so a
    problem names what the user typed; every other problem names its ``HARNESS_*`` variable.
    """
    given = dict(overrides or {})
    try:
        return HarnessSettings(**given)
    except ValidationError as exc:
        flags = {field: flag for field, flag in (flags or {}).items() if field in given}  # what the user typed
        labels = {field: flags.get(field, env_name(field)) for field in HarnessSettings.model_fields}
        raise SettingsError([_problem(error, labels) for error in exc.errors()]) from None
    except PydanticSettingsError as exc:  # a value the settings source itself could not decode
        match = re.search(r'field "(\w+)"', str(exc))
        field = match.group(1) if match else "?"
        raise SettingsError([f"{env_name(field)}: {exc.__cause__ or exc}"]) from None


def _problem(error: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else ""
    label = labels.get(field, env_name(field) if field else "settings")
    value = error.get("input")
    shown = repr(str(value)) if isinstance(value, Path) else repr(value)
    return f"{label}={shown}: {_requirement(error)}"


def _requirement(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    simple = {
        "float_parsing": "a number is required",
        "float_type": "a number is required",
        "int_parsing": "a whole number is required",
        "int_type": "a whole number is required",
        "int_from_float": "a whole number is required",
        "bool_parsing": "true or false is required",
        "bool_type": "true or false is required",
        "list_type": "a JSON list is required",
        "path_type": "a path is required",
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return f"allowed: {ctx.get('expected', '?')}"
    bounds = {"greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"a number {words} {ctx.get(key)} is required"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ").replace("Input should be", "must be")
