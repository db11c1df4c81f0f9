"""The run-directory contract: each file's record survives a write and a read, and a file in another
format is refused with one error that names it (never a KeyError half-way through)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.core.jsonfile import write_json_atomically
from harness.core.rundir import (
    RUNTIME_FORMAT,
    AlbInfo,
    AlbListenerInfo,
    CloudWatchInfo,
    PostgresInfo,
    RdsBinding,
    RunDir,
    RunDirFileError,
    RuntimeInfo,
    SmtpEndpoint,
    StackState,
    TargetGroupInfo,
    parse_state,
)
from harness.core.truth import (
    TRUTH_FORMAT,
    AlbTruth,
    DnsTruth,
    EcsServiceTruth,
    EcsTruth,
    TargetHealthRow,
    TruthReader,
    write_truth,
)

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/main/api"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/1"
TASK = {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/main/abc", "lastStatus": "RUNNING",
        "harness": {"pids": {"api": 4242}}}
ECS = EcsTruth(
    services={SERVICE: EcsServiceTruth("api", "arn:cluster/main", "arn:td/api:1", 2, 1, 0, [TASK])},
    standalone=[{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/main/def", "lastStatus": "STOPPED"}],
    generatedAt=1700000000.5,
)
# a state file of a stack that no longer answers (nothing listens on port 1)
STATE = {"fingerprint": "f", "backend": "moto", "aws_endpoint_url": "http://127.0.0.1:1", "region": "us-east-1",
         "postgres": {"host": "127.0.0.1", "port": 1, "superuser": "postgres", "password": "p", "data_dir": "/d"},
         "rds": [], "outputs": {}, "detached": True, "owner_pid": 1, "booted_at": 0.0, "timings": {},
         "runtime": True, "harness_version": "0.1.0", "format": 1}
ROWS = [TargetHealthRow("127.0.0.1", 8001, "healthy"),
        TargetHealthRow("127.0.0.1", 8002, "unhealthy", "Target.Timeout", "Request timed out")]


def test_stack_state_round_trip() -> None:
    state = StackState(
        fingerprint="f", backend="moto", aws_endpoint_url="http://127.0.0.1:1", region="us-east-1",
        postgres=PostgresInfo("127.0.0.1", 5433, "postgres", "pw", "/data"),
        rds=[RdsBinding("db", "db.rds.amazonaws.com", 5432, "127.0.0.1", 5433, "mail", "app", "arn:secret", True)],
        outputs={"api_url": "https://api.example", "dlq_urls": {"inbound": "http://q"}},
        detached=True, owner_pid=7, booted_at=1.5, timings={"total": 2.0}, reused=True,
    )
    text = state.to_json()
    assert json.loads(text)["format"] == 1 and "reused" not in json.loads(text)
    again = parse_state(text.encode())
    assert again == StackState(**{**vars(state), "reused": False})
    assert isinstance(again.postgres, PostgresInfo) and isinstance(again.rds[0], RdsBinding)
    assert again.postgres.dsn("mail") == "postgresql://postgres:pw@127.0.0.1:5433/mail"


def test_runtime_round_trip(tmp_path: Path) -> None:
    paths = RunDir(tmp_path)
    info = RuntimeInfo(
        ready=True,
        alb=AlbInfo(
            ca_bundle="/run/alb/tls/ca.pem", time_scale=10.0,
            listeners=[AlbListenerInfo("main", "arn:lb", "arn:listener", 443, "HTTPS", 50123,
                                       "https://127.0.0.1:50123", "https://main.elb.amazonaws.com:443")],
            target_groups=[TargetGroupInfo("api", TG, 1, ROWS)],
        ),
        smtp=SmtpEndpoint("127.0.0.1", 2525),
        ecs=ECS,
        cloudwatch=CloudWatchInfo(time_scale=10.0, period_60_seconds=6.0, alarms={"dlq": {"state": "OK"}},
                                  errors={"sqs": "down"}, notes=["no insights"]),
    )
    paths.write_runtime(info)
    assert json.loads(paths.runtime_file.read_text())["format"] == RUNTIME_FORMAT
    assert paths.read_runtime() == info
    failed = RuntimeInfo(ready=False, failed=True, error="boom")
    paths.write_runtime(failed)
    assert paths.read_runtime() == failed


def test_runtime_info_of_the_parts_reports() -> None:
    """What the daemon does with its parts' dicts: the typed record, or an error naming the field."""
    info = RuntimeInfo.of({"ready": False, "smtp": {"host": "127.0.0.1", "port": 2525}})
    assert info.smtp == SmtpEndpoint("127.0.0.1", 2525) and info.alb is None
    with pytest.raises(ValueError, match=r"field smtp\.port"):
        RuntimeInfo.of({"ready": False, "smtp": {"host": "127.0.0.1"}})


@pytest.mark.parametrize("truth", [AlbTruth({TG: ROWS}), ECS, DnsTruth({"api.example": {443: "127.0.0.1:5"}})])
def test_truth_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, truth: AlbTruth) -> None:
    path = tmp_path / "truth.json"
    write_truth(path, truth)
    assert json.loads(path.read_text())["format"] == TRUTH_FORMAT
    monkeypatch.setenv("HARNESS_TEST_TRUTH", str(path))
    assert TruthReader("HARNESS_TEST_TRUTH", type(truth)).read() == truth


@pytest.mark.parametrize(("written", "found"), [
    # what the data-plane daemon wrote before runtime.json had a format number
    ({"ready": True, "smtp": {"host": "127.0.0.1", "port": 2525}}, "written by an older harness (format none)"),
    ({"format": RUNTIME_FORMAT + 1, "ready": True}, "written in format 2 by a newer harness"),
    ([1, 2], "a JSON list where an object is expected"),
    ({"format": RUNTIME_FORMAT, "ready": True, "smtp": {"host": "h"}}, "field smtp.port: Field required"),
])
def test_runtime_of_another_format_is_one_clear_error(tmp_path: Path, written: object, found: str) -> None:
    paths = RunDir(tmp_path)
    write_json_atomically(paths.runtime_file, written)
    with pytest.raises(RunDirFileError) as caught:
        paths.read_runtime()
    assert caught.value.problem == f"{paths.runtime_file}: {caught.value.found}"
    assert found in caught.value.found
    assert "`harness down`" in (caught.value.fix or "")


def test_an_older_run_directory_is_refused_by_the_commands(tmp_path: Path) -> None:
    """A run directory written before the formats: `harness status` says so once, without a traceback."""
    old = {key: value for key, value in STATE.items() if key != "format"}
    paths = RunDir(tmp_path)
    paths.state_file.write_text(json.dumps(old))
    result = CliRunner().invoke(app, ["status", "--run-dir", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "written by an older harness (version 0.1.0, format none); this one reads format 1" in result.output


def test_paths_and_emulator_env(tmp_path: Path) -> None:
    paths = RunDir(tmp_path)
    env = paths.emulator_env(ca_bundle=tmp_path / "ca.pem")
    assert env == {
        "HARNESS_ALB_TRUTH": str(tmp_path / "truth" / "alb.json"),
        "HARNESS_ECS_TRUTH": str(tmp_path / "truth" / "ecs.json"),
        "HARNESS_DNS_TRUTH": str(tmp_path / "truth" / "dns.json"),
        "HARNESS_CA_BUNDLE": str(tmp_path / "ca.pem"),
        "HARNESS_SNS_SIGNING_DIR": str(tmp_path / "moto" / "sns-signing"),
    }
    log = paths.task_logs_dir / "abc" / "api.log"
    log.parent.mkdir(parents=True)
    log.write_text("started\n")
    assert paths.task_logs() == [log]


def test_the_contract_is_a_light_leaf() -> None:
    """The moto process imports it for the variable names: no pydantic, no other harness layer on import."""
    code = ("import sys, harness.core.rundir; "
            "print(sorted(m for m in sys.modules if m == 'pydantic' or m.startswith(("
            "'harness.aws', 'harness.emulator', 'harness.runtime', 'harness.stack', 'harness.testing'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("command", ["status", "env", "send-mail"])
def test_a_data_plane_of_an_older_harness_is_named_by_the_commands(tmp_path: Path, command: str) -> None:
    """A current state file, but runtime.json as the daemon wrote it before formats: the commands say that,
    not merely "no local cloud is running here"."""
    paths = RunDir(tmp_path)
    paths.state_file.write_text(json.dumps(STATE))
    paths.runtime_file.write_text(json.dumps({"ready": True, "smtp": {"host": "127.0.0.1", "port": 2525}}))
    result = CliRunner().invoke(app, [command, "--run-dir", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{paths.runtime_file}: written by an older harness (format none)" in " ".join(result.output.split())
    assert "harness down" in result.output
