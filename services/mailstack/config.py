"""Settings from environment variables, per the configuration contract in services/README.md.

Each command loads only what it needs (`load_api_settings`, `load_worker_settings`, ...). A missing or
invalid variable raises one ConfigError that names every offending variable and where it comes from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from psycopg.conninfo import make_conninfo

DEFAULT_PORT = 8080
DEFAULT_BIND_HOST = "0.0.0.0"
DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
DEFAULT_API_MAX_BODY_BYTES = 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Where a variable comes from in ECS, so an error can say what to fix.
_SOURCES: dict[str, str] = {
    "DB_HOST": "task definition secret from SSM /mailstack/<env>/db/host",
    "DB_PORT": "task definition secret from SSM /mailstack/<env>/db/port",
    "DB_NAME": "task definition secret from SSM /mailstack/<env>/db/name",
    "DB_USER": "task definition secret from the RDS master secret, JSON key username",
    "DB_PASSWORD": "task definition secret from the RDS master secret, JSON key password",
    "INBOUND_QUEUE_URL": "task definition secret from SSM /mailstack/<env>/sqs/inbound_queue_url",
    "RAW_MAIL_BUCKET": "task definition secret from SSM /mailstack/<env>/s3/raw_mail_bucket",
    "ATTACHMENTS_BUCKET": "task definition secret from SSM /mailstack/<env>/s3/attachments_bucket",
    "API_TOKEN": "task definition secret from SSM /mailstack/<env>/api/token",
    "MAILSTACK_ENV": "task definition environment",
    "AWS_REGION": "task definition environment",
}


class ConfigError(Exception):
    """The environment does not satisfy the configuration contract."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {problem}" for problem in problems))


class _Environment:
    """Reads variables and collects every problem, so one error reports them all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def optional(self, name: str, default: str = "") -> str:
        value = self._environ.get(name, "").strip()
        return value or default

    def required(self, name: str) -> str:
        value = self.optional(name)
        if not value:
            source = _SOURCES.get(name)
            hint = f" (expected from {source})" if source else ""
            self.problems.append(f"missing environment variable {name}{hint}")
        return value

    def required_raw(self, name: str) -> str:
        """Like required, but keeps surrounding whitespace (passwords, tokens)."""
        value = self._environ.get(name, "")
        if not value:
            self.required(name)
        return value

    def integer(self, name: str, default: int | None, low: int, high: int) -> int:
        text = self.optional(name) if default is not None else self.required(name)
        if not text:
            return default if default is not None else low
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            self.problems.append(f"{name} must be an integer from {low} to {high}, got {text!r}")
            return default if default is not None else low
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.optional(name, default).upper()
        if value not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def pattern(self, name: str, default: re.Pattern[str]) -> re.Pattern[str]:
        text = self.optional(name)
        if not text:
            return default
        try:
            return re.compile(text)
        except re.error as exc:
            self.problems.append(f"{name} is not a valid regular expression ({exc}): {text!r}")
            return default

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


@dataclass(frozen=True)
class CommonSettings:
    env: str
    region: str
    log_level: str


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)
    sslmode: str = "prefer"
    connect_timeout: int = 5

    def conninfo(self) -> str:
        """A libpq connection string for psycopg."""
        return make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.name,
            user=self.user,
            password=self.password,
            sslmode=self.sslmode,
            connect_timeout=self.connect_timeout,
            application_name="mailstack",
        )

    def yoyo_uri(self) -> str:
        """The same database as a yoyo URI (psycopg 3 backend)."""
        user = quote(self.user, safe="")
        password = quote(self.password, safe="")
        return (
            f"postgresql+psycopg://{user}:{password}@{self.host}:{self.port}/{quote(self.name, safe='')}"
            f"?sslmode={self.sslmode}&connect_timeout={self.connect_timeout}"
        )


@dataclass(frozen=True)
class WorkerSettings:
    common: CommonSettings
    database: DatabaseSettings
    inbound_queue_url: str
    raw_mail_bucket: str
    attachments_bucket: str
    wait_time_seconds: int = 20
    batch_size: int = 10
    ses_notification_grace_seconds: int = 30


@dataclass(frozen=True)
class ApiSettings:
    common: CommonSettings
    database: DatabaseSettings
    port: int
    raw_mail_bucket: str
    attachments_bucket: str
    api_token: str = field(repr=False)
    bind_host: str = DEFAULT_BIND_HOST
    sns_trusted_cert_url_pattern: re.Pattern[str] = re.compile(DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN)
    sns_trusted_subscribe_url_pattern: re.Pattern[str] = re.compile(DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN)
    sns_topic_arns: frozenset[str] = frozenset()
    max_body_bytes: int = DEFAULT_API_MAX_BODY_BYTES


def _common(env: _Environment) -> CommonSettings:
    region = env.optional("AWS_REGION") or env.optional("AWS_DEFAULT_REGION") or env.required("AWS_REGION")
    return CommonSettings(
        env=env.required("MAILSTACK_ENV"),
        region=region,
        log_level=env.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
    )


def _database(env: _Environment) -> DatabaseSettings:
    return DatabaseSettings(
        host=env.required("DB_HOST"),
        port=env.integer("DB_PORT", None, 1, 65535),
        name=env.required("DB_NAME"),
        user=env.required("DB_USER"),
        password=env.required_raw("DB_PASSWORD"),
        sslmode=env.optional("DB_SSLMODE", "prefer"),
        connect_timeout=env.integer("DB_CONNECT_TIMEOUT_SECONDS", 5, 1, 300),
    )


def load_log_level(environ: Mapping[str, str] | None = None) -> str:
    """LOG_LEVEL alone (falls back to INFO when invalid), for logging set up before full validation."""
    value = (environ if environ is not None else os.environ).get("LOG_LEVEL", "INFO").strip().upper()
    return value if value in LOG_LEVELS else "INFO"


def load_database_settings(environ: Mapping[str, str] | None = None) -> DatabaseSettings:
    env = _Environment(environ if environ is not None else os.environ)
    database = _database(env)
    env.check()
    return database


def load_worker_settings(environ: Mapping[str, str] | None = None) -> WorkerSettings:
    env = _Environment(environ if environ is not None else os.environ)
    settings = WorkerSettings(
        common=_common(env),
        database=_database(env),
        inbound_queue_url=env.required("INBOUND_QUEUE_URL"),
        raw_mail_bucket=env.required("RAW_MAIL_BUCKET"),
        attachments_bucket=env.required("ATTACHMENTS_BUCKET"),
        wait_time_seconds=env.integer("WORKER_WAIT_TIME_SECONDS", 20, 0, 20),
        batch_size=env.integer("WORKER_BATCH_SIZE", 10, 1, 10),
        ses_notification_grace_seconds=env.integer("WORKER_SES_NOTIFICATION_GRACE_SECONDS", 30, 0, 900),
    )
    env.check()
    return settings


def load_api_settings(environ: Mapping[str, str] | None = None) -> ApiSettings:
    env = _Environment(environ if environ is not None else os.environ)
    cert_pattern = env.pattern("SNS_TRUSTED_CERT_URL_PATTERN", re.compile(DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN))
    settings = ApiSettings(
        common=_common(env),
        database=_database(env),
        port=load_port(env),
        bind_host=load_bind_host(env),
        raw_mail_bucket=env.required("RAW_MAIL_BUCKET"),
        attachments_bucket=env.required("ATTACHMENTS_BUCKET"),
        api_token=env.required_raw("API_TOKEN"),
        sns_trusted_cert_url_pattern=cert_pattern,
        sns_trusted_subscribe_url_pattern=env.pattern("SNS_TRUSTED_SUBSCRIBE_URL_PATTERN", cert_pattern),
        sns_topic_arns=frozenset(arn.strip() for arn in env.optional("SNS_TOPIC_ARNS").split(",") if arn.strip()),
        max_body_bytes=env.integer("API_MAX_BODY_BYTES", DEFAULT_API_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
    )
    env.check()
    return settings


def load_bind_host(env: _Environment | Mapping[str, str] | None = None) -> str:
    """BIND_HOST (default 0.0.0.0): the address the API listens on. In a container every task has its own
    network namespace; run as plain processes, each task gets its own address (like an awsvpc ENI)."""
    reader = env if isinstance(env, _Environment) else _Environment(env if env is not None else os.environ)
    return reader.optional("BIND_HOST") or DEFAULT_BIND_HOST


def health_probe_host(bind_host: str) -> str:
    """Where a local health check reaches a server bound to `bind_host`."""
    return "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host


def load_port(env: _Environment | Mapping[str, str] | None = None) -> int:
    """PORT (default 8080)."""
    if not isinstance(env, _Environment):
        reader = _Environment(env if env is not None else os.environ)
        port = reader.integer("PORT", DEFAULT_PORT, 1, 65535)
        reader.check()
        return port
    return env.integer("PORT", DEFAULT_PORT, 1, 65535)
