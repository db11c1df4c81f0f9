"""Boots from snapshots, on real processes (moto server, PostgreSQL, Terraform) with a small root module that has
what the platform's snapshots must survive: a queue URL (the emulator's own address) in an SSM parameter and
an output, an alarm whose threshold a pull request changes, and the resources' IDs in the Terraform state."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.core.progress import QuietReporter
from harness.core.reaper import processes_of
from harness.emulator import state as emulator_state
from harness.snapshots.layers import CLOUD, DATABASE, EMULATOR_STATE
from harness.snapshots.store import MANIFEST, SnapshotStore
from harness.stack import Stack, StackState

pytestmark = pytest.mark.slow
SNAPSHOT_TF = Path(__file__).parents[1] / "data" / "snapshot_tf"
APPLY_PHASES = {"terraform init", "terraform apply"}


class Boots:
    """Stacks of one project over one snapshot store, each in its own run directory; all stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = SnapshotStore(root / "store")
        self.stacks: list[Stack] = []
        self.tf = root / "tf"
        shutil.copytree(SNAPSHOT_TF, self.tf)

    def settings(self, name: str, **extra: object) -> HarnessSettings:
        values: dict[str, object] = {"project_dir": self.root, "run_dir": self.root / name, "terraform_dir": self.tf,
                                     "runtime": False, "snapshot_dir": self.store.root, **extra}
        return HarnessSettings(**values)  # type: ignore[arg-type]

    def up(self, name: str, **extra: object) -> tuple[StackState, QuietReporter]:
        reporter = QuietReporter()
        stack = Stack(self.settings(name, **extra), reporter, detached=False)
        self.stacks.append(stack)
        return stack.up(), reporter

    def plan(self, name: str) -> str | None:
        stack = Stack(self.settings(name))
        state = stack.load_state()
        assert state is not None
        runner = stack.terraform(state.aws_endpoint_url)
        runner.prepare()
        return runner.plan_changes()  # initialises the restored working directory first

    def down(self) -> None:
        for stack in self.stacks:
            stack.down()


@pytest.fixture
def boots(tmp_path: Path) -> Iterator[Boots]:
    made = Boots(tmp_path)
    yield made
    made.down()
    assert all(processes_of(stack.run_dir) == [] for stack in made.stacks)


def _resource_ids(run_dir: Path) -> dict[str, str]:
    tfstate = json.loads((run_dir / "terraform" / "work" / "terraform.tfstate").read_text())
    return {f"{r['type']}.{r['name']}": r["instances"][0]["attributes"]["id"] for r in tfstate["resources"]}


def test_a_second_boot_restores_the_first_ones_cloud_without_an_apply(boots: Boots) -> None:
    first, cold = boots.up("a")
    assert set(cold.timings) >= APPLY_PHASES and "snapshot saved (cloud)" in cold.timings
    assert first.snapshot is None
    [saved] = boots.store.entries(CLOUD)

    second, warm = boots.up("b")  # the first stack still runs: another port, same store
    assert not APPLY_PHASES & set(warm.timings), warm.timings
    assert second.snapshot == {"cloud": saved.key, "changed_files": 0, "database": None}
    assert second.aws_endpoint_url != first.aws_endpoint_url

    # Outputs, Terraform state and the emulator's own strings all name the restoring emulator.
    assert second.outputs["queue_url"] == first.outputs["queue_url"].replace(first.aws_endpoint_url,  # type: ignore[union-attr]
                                                                            second.aws_endpoint_url)
    assert second.outputs["alarm_arn"] == first.outputs["alarm_arn"]
    ids = _resource_ids(boots.root / "b")
    assert ids == {name: value.replace(first.aws_endpoint_url, second.aws_endpoint_url)
                   for name, value in _resource_ids(boots.root / "a").items()}
    aws = AwsClients(second.aws_endpoint_url, second.region)
    parameter = aws.client("ssm").get_parameter(Name="/snapshot/queue-url")["Parameter"]["Value"]
    assert parameter == second.outputs["queue_url"] == ids["aws_sqs_queue.jobs"]
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=parameter, MessageBody="after the restore")
    assert sqs.receive_message(QueueUrl=parameter)["Messages"][0]["Body"] == "after the restore"
    alarm = aws.client("cloudwatch").describe_alarms(AlarmNames=["snapshot-backlog"])["MetricAlarms"][0]
    assert alarm["AlarmArn"] == first.outputs["alarm_arn"] and alarm["Threshold"] == 10
    assert boots.plan("b") is None  # Terraform sees exactly what it applied


def test_a_changed_threshold_restores_the_nearest_cloud_and_applies_one_resource(boots: Boots) -> None:
    boots.up("a")
    main = boots.tf / "main.tf"
    main.write_text(main.read_text().replace("default = 10", "default = 25"))

    changed, reporter = boots.up("b")
    assert changed.snapshot is not None and changed.snapshot["changed_files"] == 1
    assert "terraform apply" in reporter.timings
    log = (boots.root / "b" / "terraform" / "terraform.log").read_text()
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in log
    aws = AwsClients(changed.aws_endpoint_url, changed.region)
    assert aws.client("cloudwatch").describe_alarms(AlarmNames=["snapshot-backlog"])["MetricAlarms"][0][
        "Threshold"] == 25
    assert boots.plan("b") is None

    # the changed tree's own snapshot was saved: the next boot of it restores exactly
    again, again_reporter = boots.up("c")
    assert again.snapshot is not None and again.snapshot["changed_files"] == 0
    assert not APPLY_PHASES & set(again_reporter.timings)
    assert len(boots.store.entries(CLOUD)) == 2


def test_another_root_module_does_not_restore_a_snapshot(boots: Boots, tmp_path: Path) -> None:
    boots.up("a")
    (boots.tf / "main.tf").unlink()
    (boots.tf / "probe.tf").write_text((SNAPSHOT_TF.parent / "tiny_tf" / "main.tf").read_text())
    other, reporter = boots.up("b")
    assert other.snapshot is None and set(reporter.timings) >= APPLY_PHASES


def _corrupt(boots: Boots, how: str) -> None:
    [snap] = boots.store.entries(CLOUD)
    target = snap.file(EMULATOR_STATE)
    if how == "flipped byte":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
        return
    # another moto wrote it, and the store's digests were made to match: only the emulator can tell
    header, body = emulator_state.read_header(target)
    header["moto"] = "5.0.0"
    target.write_bytes(emulator_state.MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body)
    manifest = json.loads((snap.path / MANIFEST).read_text())
    manifest["files"][EMULATOR_STATE] = {"size": target.stat().st_size,
                                         "sha256": emulator_state.hashlib.sha256(target.read_bytes()).hexdigest()}
    (snap.path / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("how", ["flipped byte", "another emulator"])
def test_an_unusable_snapshot_is_one_line_and_a_cold_boot(boots: Boots, how: str) -> None:
    boots.up("a")
    [bad] = boots.store.entries(CLOUD)
    boots.stacks[0].down()
    _corrupt(boots, how)

    state, reporter = boots.up("b")
    assert state.snapshot is None
    assert set(reporter.timings) >= APPLY_PHASES  # booted cold, completely
    [note] = reporter.notes
    assert f"snapshot {bad.key[:12]} is unusable" in note and "booting cold" in note and "\n" not in note
    if how == "another emulator":
        assert "moto '5.0.0' in the file" in note
    [fresh] = boots.store.entries(CLOUD)  # the bad one was replaced by the cold boot's
    assert boots.store.verify(fresh.key) is None
    assert boots.plan("b") is None


def test_snapshots_off_boots_cold_and_saves_nothing(boots: Boots) -> None:
    state, reporter = boots.up("a", snapshots=False)
    assert state.snapshot is None and set(reporter.timings) >= APPLY_PHASES
    assert boots.store.entries() == []


def test_a_boot_with_a_data_plane_also_restores_the_database_layer(boots: Boots) -> None:
    first, _ = boots.up("a", runtime=True)  # no services in this module: the data plane has nothing to run
    [database] = boots.store.entries(DATABASE)
    assert database.meta == {"cloud": boots.store.entries(CLOUD)[0].key}
    second, reporter = boots.up("b", runtime=True)
    assert second.snapshot is not None and second.snapshot["database"] == database.key
    assert "postgres ready (restored)" in reporter.timings
    assert second.postgres.password == first.postgres.password and second.postgres.port != first.postgres.port
    with psycopg.connect(second.postgres.dsn(), connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def _up_in_a_process(boots: Boots, name: str) -> subprocess.Popen[str]:
    env = {"HARNESS_SNAPSHOT_DIR": str(boots.store.root), "HARNESS_RUNTIME": "false",
           "HARNESS_TERRAFORM_DIR": str(boots.tf), "HARNESS_PROJECT_DIR": str(boots.root),
           "HARNESS_RUN_DIR": str(boots.root / name)}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "up"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_concurrent_boots_on_one_store_both_come_up_and_leave_one_good_snapshot(boots: Boots) -> None:
    runs = ["a", "b"]
    for name in runs:
        boots.stacks.append(Stack(boots.settings(name)))
    processes = [_up_in_a_process(boots, name) for name in runs]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    [saved] = boots.store.entries(CLOUD)
    assert boots.store.verify(saved.key) is None
    assert list(boots.store.root.glob(".tmp-*")) == []
    # and two restores at once from it
    processes = [_up_in_a_process(boots, name) for name in ("c", "d")]
    for name in ("c", "d"):
        boots.stacks.append(Stack(boots.settings(name)))
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    for name in ("c", "d"):
        state = Stack(boots.settings(name)).load_state()
        assert state is not None and state.snapshot is not None and state.snapshot["cloud"] == saved.key
