"""The run directory: the one contract between the processes of a local cloud.

Three processes share a run directory. The CLI (``harness.stack``) boots the others and writes the
stack's state (``stack.json``: ``StackState``); the data-plane daemon (``python -m harness.runtime``)
reads that state, publishes what it runs (``runtime.json``: ``RuntimeInfo``) and the data plane's truth
(``truth/``: ``harness.core.truth``); the moto server finds the truth files through environment
variables. ``RunDir`` names every path, the ``*_ENV`` constants every variable, and the dataclasses
every file's format. Each file carries a format number: one written by an older (or newer) harness is
refused with one error that says so, never read half-way.

Light module: the standard library at import time (pydantic on the first parse); the emulator side
imports it for the variable names.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness import __version__
from harness.core.errors import HarnessError
from harness.core.jsonfile import FormatMismatch, check_format, parse, to_json, write_json_atomically
from harness.core.truth import EcsTruth, TargetHealthRow

# ------------------------------------------------------------------------------------------------
# Environment variables that wire the processes together (the stack sets them on the moto server)

ALB_TRUTH_ENV = "HARNESS_ALB_TRUTH"  # AlbTruth, read by patch elbv2-target-health-truth
ECS_TRUTH_ENV = "HARNESS_ECS_TRUTH"  # EcsTruth, read by patch ecs-tasks-truth
DNS_TRUTH_ENV = "HARNESS_DNS_TRUTH"  # DnsTruth, read by patch sns-http-delivery
CA_BUNDLE_ENV = "HARNESS_CA_BUNDLE"  # the ALB's CA, which SNS https deliveries trust
SNS_SIGNING_DIR_ENV = "HARNESS_SNS_SIGNING_DIR"  # where SNS keeps its signing key pair

STATE_FORMAT = 1  # stack.json
RUNTIME_FORMAT = 1  # runtime.json


# ------------------------------------------------------------------------------------------------
# stack.json


@dataclass(frozen=True)
class PostgresInfo:
    """The real PostgreSQL cluster behind every emulated RDS instance."""

    host: str
    port: int
    superuser: str
    password: str
    data_dir: str

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        credentials = f"{quote(user or self.superuser, safe='')}:{quote(password or self.password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(dbname, safe='')}"


@dataclass(frozen=True)
class RdsBinding:
    """An emulated RDS instance and the database of the real cluster that serves it."""

    identifier: str
    emulated_host: str
    emulated_port: int
    host: str
    port: int
    dbname: str
    username: str
    master_secret_arn: str | None
    password_known: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StackState:
    fingerprint: str
    backend: str
    aws_endpoint_url: str
    region: str
    postgres: PostgresInfo
    rds: list[RdsBinding]
    outputs: dict[str, Any]
    detached: bool
    owner_pid: int
    booted_at: float
    timings: dict[str, float] = field(default_factory=dict)
    runtime: bool = True
    snapshot: dict[str, Any] | None = None  # what this boot restored: layer keys and changed Terraform files
    harness_version: str = __version__
    reused: bool = False  # of this boot, not saved

    def to_json(self) -> str:
        data = to_json(self, STATE_FORMAT)
        data.pop("reused")
        return json.dumps(data, indent=2, sort_keys=True)


class UnusableState(Exception):
    """What a state file holds instead of a StackState (`found`), and for a newer harness its version."""

    def __init__(self, found: str, newer: tuple[str, list[str]] | None = None) -> None:
        super().__init__(found)
        self.found = found
        self.newer = newer


def parse_state(raw: bytes) -> StackState:
    """A StackState from the bytes of a state file, or UnusableState saying what the bytes are instead."""
    if not raw.strip():
        raise UnusableState("empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnusableState(f"binary data ({len(raw)} bytes), not JSON") from None
    except json.JSONDecodeError as exc:
        raise UnusableState(f"not valid JSON, truncated? ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise UnusableState(f"a JSON {type(data).__name__} where an object is expected")
    version = str(data.get("harness_version", "unknown"))
    known = {f.name for f in fields(StackState)} | {"format"}
    unknown = sorted(set(data) - known)
    if unknown and "harness_version" not in data:
        raise UnusableState(f"not a harness state file (unknown fields {', '.join(unknown)}, no harness_version)")
    try:
        data = check_format(data, STATE_FORMAT)
    except FormatMismatch as exc:
        if exc.newer:
            raise UnusableState(str(exc), newer=(version, unknown or [f"format {exc.found}"])) from None
        found = "none" if exc.found is None else repr(exc.found)
        raise UnusableState(f"written by an older harness (version {version}, format {found}); "
                            f"this one reads format {STATE_FORMAT}") from None
    if unknown:
        raise UnusableState("unknown fields", newer=(version, unknown))
    required = {f.name for f in fields(StackState) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - set(data))
    if missing:
        raise UnusableState(f"written by an older harness (version {version}): missing {', '.join(missing)}")
    try:
        return parse(StackState, data)
    except ValueError as exc:
        raise UnusableState(str(exc)) from None


# ------------------------------------------------------------------------------------------------
# runtime.json


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int


@dataclass(frozen=True)
class AlbListenerInfo:
    """A listener Terraform declared and the local port the data plane serves it on."""

    load_balancer: str
    load_balancer_arn: str
    arn: str
    port: int
    protocol: str
    local_port: int
    local_url: str
    public_url: str


@dataclass(frozen=True)
class TargetGroupInfo:
    name: str
    arn: str
    healthy: int
    targets: list[TargetHealthRow] = field(default_factory=list)


@dataclass(frozen=True)
class AlbInfo:
    ca_bundle: str
    time_scale: float = 1.0
    listeners: list[AlbListenerInfo] = field(default_factory=list)
    target_groups: list[TargetGroupInfo] = field(default_factory=list)
    last_poll_error: str | None = None


@dataclass(frozen=True)
class CloudWatchInfo:
    """The CloudWatch emulation's report (``CloudWatchEmulation.snapshot()``)."""

    time_scale: float = 1.0
    period_60_seconds: float = 60.0  # real seconds a 60 s period lasts on the scaled clock
    running: bool = True
    last_publish: str | None = None  # ISO 8601
    published: dict[str, int] = field(default_factory=dict)  # datapoints per metric source
    errors: dict[str, str] = field(default_factory=dict)  # per metric source
    notes: list[str] = field(default_factory=list)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)  # the evaluator's view: state, reason, ...
    transitions: list[dict[str, Any]] = field(default_factory=list)
    notifications: int = 0
    unsupported_alarms: dict[str, str] = field(default_factory=dict)
    actions_not_performed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuntimeInfo:
    """What the data-plane daemon publishes: whether it serves, and each part's endpoints and state.

    `failed` with `error` when it could not start."""

    ready: bool
    failed: bool = False
    error: str | None = None
    alb: AlbInfo | None = None
    smtp: SmtpEndpoint | None = None
    ecs: EcsTruth | None = None
    cloudwatch: CloudWatchInfo | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> RuntimeInfo:
        """A RuntimeInfo from the parts' own JSON-able reports (ValueError naming a field that does not fit)."""
        return parse(cls, data)


class RunDirFileError(HarnessError):
    """A file of the run directory exists but cannot be used (another format, or not what it should be)."""

    def __init__(self, path: Path, found: str) -> None:
        self.path = path
        self.found = found
        super().__init__(f"{path}: {found}",
                         "restart this run directory's local cloud with this harness: `harness down`, `harness up`")


# ------------------------------------------------------------------------------------------------
# The directory


@dataclass(frozen=True)
class RunDir:
    """Every path of a run directory (`root`)."""

    root: Path

    # the stack (CLI process)
    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "stack.lock"

    @property
    def terraform_dir(self) -> Path:
        return self.root / "terraform"

    @property
    def terraform_workdir(self) -> Path:
        return self.terraform_dir / "work"

    @property
    def terraform_log(self) -> Path:
        return self.terraform_dir / "terraform.log"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def snapshot_dir(self) -> Path:
        """Snapshot files checked out for a restore, and layers on their way into the store."""
        return self.root / "snapshot"

    @property
    def moto_dir(self) -> Path:
        return self.root / "moto"

    @property
    def moto_log(self) -> Path:
        return self.moto_dir / "moto.log"

    @property
    def sns_signing_dir(self) -> Path:
        return self.moto_dir / "sns-signing"

    # the data-plane daemon
    @property
    def runtime_file(self) -> Path:
        return self.root / "runtime.json"

    @property
    def runtime_go(self) -> Path:
        """Written by the stack once the state file is complete: a runtime started early waits for it."""
        return self.root / "runtime.go"

    @property
    def runtime_log(self) -> Path:
        return self.root / "runtime.log"

    @property
    def alb_dir(self) -> Path:
        return self.root / "alb"

    @property
    def alb_tls_dir(self) -> Path:
        """The ALB's CA (``LocalCA``): it signs the listeners' certificates; SNS and tests trust it."""
        return self.alb_dir / "tls"

    @property
    def ses_dir(self) -> Path:
        return self.root / "ses"

    @property
    def ses_traces(self) -> Path:
        """One JSON line per accepted mail: the receipt rules and actions SES inbound ran."""
        return self.ses_dir / "traces.jsonl"

    @property
    def ses_rejections(self) -> Path:
        """One JSON line per refused connection or recipient."""
        return self.ses_dir / "rejections.jsonl"

    @property
    def ses_outbox(self) -> Path:
        """One JSON line per bounce message the Bounce action sent."""
        return self.ses_dir / "outbox.jsonl"

    @property
    def ecs_dir(self) -> Path:
        return self.root / "ecs"

    @property
    def task_logs_dir(self) -> Path:
        """`<task id>/<container>.log` of every task the ECS runner started."""
        return self.ecs_dir / "tasks"

    def task_logs(self) -> list[Path]:
        return [path for path in self.task_logs_dir.glob("*/*.log") if path.is_file()]

    # the data plane's truth, read by the moto server
    @property
    def truth_dir(self) -> Path:
        return self.root / "truth"

    @property
    def alb_truth(self) -> Path:
        return self.truth_dir / "alb.json"

    @property
    def ecs_truth(self) -> Path:
        return self.truth_dir / "ecs.json"

    @property
    def dns_truth(self) -> Path:
        return self.truth_dir / "dns.json"

    def emulator_env(self, ca_bundle: Path) -> dict[str, str]:
        """The variables the moto server needs to read this run directory (`ca_bundle`: the ALB's CA certificate)."""
        return {
            ALB_TRUTH_ENV: str(self.alb_truth),
            ECS_TRUTH_ENV: str(self.ecs_truth),
            DNS_TRUTH_ENV: str(self.dns_truth),
            CA_BUNDLE_ENV: str(ca_bundle),
            SNS_SIGNING_DIR_ENV: str(self.sns_signing_dir),
        }

    # -- stack.json ------------------------------------------------------------------------------
    def load_state(self) -> StackState | None:
        """The stack's state; None when there is no state file, UnusableState saying what is there instead."""
        try:
            return parse_state(self.state_file.read_bytes())
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise UnusableState("a directory, not a file") from None
        except OSError as exc:
            raise UnusableState(f"cannot be read ({exc.strerror})") from None

    def save_state(self, state: StackState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    # -- runtime.json ----------------------------------------------------------------------------
    def read_runtime(self) -> RuntimeInfo | None:
        """What the daemon published; None when it published nothing (yet), RunDirFileError for another format."""
        try:
            data = json.loads(self.runtime_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        try:
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__} where an object is expected")
            return parse(RuntimeInfo, check_format(data, RUNTIME_FORMAT))
        except ValueError as exc:
            raise RunDirFileError(self.runtime_file, str(exc)) from None

    def write_runtime(self, info: RuntimeInfo) -> None:
        write_json_atomically(self.runtime_file, to_json(info, RUNTIME_FORMAT))
