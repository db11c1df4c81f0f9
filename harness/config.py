"""Harness settings: environment variables (``HARNESS_*``) and CLI flags, never code edits."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Backend(StrEnum):
    """Which emulated AWS the stack talks to."""

    MOTO = "moto"  # a patched moto server the harness starts (default)
    ENDPOINT = "endpoint"  # any AWS-compatible endpoint someone else runs (LocalStack, a shared moto, ...)


class HarnessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HARNESS_", extra="ignore")

    project_dir: Path = Field(default_factory=Path.cwd, description="repository root")
    run_dir: Path = Field(default=Path(".harness"), description="state of the running stack")
    terraform_dir: Path = Field(default=Path("terraform"), description="the root module to apply")
    services_dir: Path = Field(default=Path("services"), description="the service images (Dockerfiles + code)")
    terraform_var_files: list[Path] = Field(default_factory=list, description="-var-file arguments")
    terraform: str = Field(default="terraform", description="terraform binary (name or path)")
    terraform_mirror: Path | None = Field(default=None, description="provider filesystem mirror")
    terraform_parallelism: int = 40
    backend: Backend = Backend.MOTO
    aws_endpoint_url: str | None = Field(default=None, description="for backend=endpoint")
    region: str = Field(default="us-east-1", description="must match the Terraform's provider region")
    postgres_bin_dir: Path | None = Field(default=None, description="directory holding initdb/pg_ctl")
    host: str = "127.0.0.1"
    time_scale: float = Field(default=1.0, description="divides health-check intervals and timeouts")
    smtp_port: int | None = Field(default=None, description="SES inbound MX port (default: a free one)")
    run_before_services: list[str] = Field(
        default_factory=list, description="task definitions to run once before the services (besides tagged ones)"
    )
    runtime: bool = Field(default=True, description="run the data plane (ECS tasks, ALB, SES inbound)")
    boot_timeout: float = 300.0

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.project_dir / path).resolve()

    @property
    def run_path(self) -> Path:
        return self.resolve(self.run_dir)

    @property
    def terraform_path(self) -> Path:
        return self.resolve(self.terraform_dir)
