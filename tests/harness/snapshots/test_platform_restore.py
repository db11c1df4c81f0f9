"""The platform's own Terraform and services restored from a snapshot: no apply, `harness plan` clean, every
resource the Terraform state names answers in the restored emulator under the same ID, and a mail sent to
the restored stack's MX lands and reads back through its ALB.

The store is the user's (the default): the first boot restores or makes the platform's snapshot, the second
boot (a new run directory) must then restore it exactly, both layers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.core.progress import QuietReporter
from harness.stack import Stack, StackState
from harness.testing.handle import StackHandle
from harness.testing.smtp_client import send_mail

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def restored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HarnessSettings, StackState, QuietReporter]]:
    base = tmp_path_factory.mktemp("platform-restore")
    first = Stack(HarnessSettings(project_dir=ROOT, run_dir=base / "first"), QuietReporter(), detached=False)
    try:
        first.up()  # cold, or restored: either way the store now holds both layers of this Terraform
    finally:
        first.down()
    settings = HarnessSettings(project_dir=ROOT, run_dir=base / "second")
    reporter = QuietReporter()
    stack = Stack(settings, reporter, detached=False)
    try:
        yield settings, stack.up(), reporter
    finally:
        stack.down()


def test_the_second_boot_restores_both_layers_without_terraform(restored: tuple[HarnessSettings, StackState,
                                                                                  QuietReporter]) -> None:
    _, state, reporter = restored
    assert state.snapshot is not None and state.snapshot["changed_files"] == 0 and state.snapshot["database"]
    assert not {"terraform init", "terraform apply"} & set(reporter.timings), reporter.timings
    assert {"emulated AWS ready (restored)", "postgres ready (restored)"} <= set(reporter.timings)


def test_plan_reports_no_changes(restored: tuple[HarnessSettings, StackState, QuietReporter]) -> None:
    settings, _, _ = restored
    done = subprocess.run([sys.executable, "-m", "harness.cli", "plan", "--run-dir", str(settings.run_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_resource_in_the_terraform_state_answers_under_its_id(
    restored: tuple[HarnessSettings, StackState, QuietReporter],
) -> None:
    settings, state, _ = restored
    tfstate = json.loads((settings.run_path / "terraform" / "work" / "terraform.tfstate").read_text())
    instances = [(resource["type"], instance["attributes"]) for resource in tfstate["resources"]
                 if resource["mode"] == "managed" for instance in resource["instances"]]
    aws = AwsClients(state.aws_endpoint_url, state.region)
    checks = {
        "aws_sqs_queue": lambda a: aws.client("sqs").get_queue_attributes(
            QueueUrl=a["id"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == a["arn"],
        "aws_s3_bucket": lambda a: aws.client("s3").head_bucket(Bucket=a["id"]) is not None,
        "aws_lb_target_group": lambda a: aws.client("elbv2").describe_target_groups(TargetGroupArns=[a["id"]])[
            "TargetGroups"][0]["TargetGroupName"] == a["name"],
        "aws_ecs_service": lambda a: aws.client("ecs").describe_services(cluster=a["cluster"], services=[a["id"]])[
            "services"][0]["status"] == "ACTIVE",
        "aws_cloudwatch_metric_alarm": lambda a: aws.client("cloudwatch").describe_alarms(AlarmNames=[a["id"]])[
            "MetricAlarms"][0]["AlarmArn"] == a["arn"],
        "aws_db_instance": lambda a: aws.client("rds").describe_db_instances(DBInstanceIdentifier=a["identifier"])[
            "DBInstances"][0]["DbiResourceId"] == a["resource_id"],
        "aws_sns_topic": lambda a: aws.client("sns").get_topic_attributes(TopicArn=a["arn"]) is not None,
    }
    checked = {kind: 0 for kind in checks}
    for kind, attributes in instances:
        if kind in checks:
            assert checks[kind](attributes), f"{kind} {attributes.get('id')}"
            checked[kind] += 1
    assert all(checked.values()), f"the platform's state lacks some kinds this test checks: {checked}"
    assert all(state.aws_endpoint_url in a["id"] for kind, a in instances if kind == "aws_sqs_queue")


def test_a_mail_lands_and_reads_back_through_the_alb(restored: tuple[HarnessSettings, StackState,
                                                                      QuietReporter]) -> None:
    settings, _, _ = restored
    handle = StackHandle.attach(settings)
    recipient = f"restored-{uuid.uuid4().hex[:8]}@{handle.mail_domains[0]}"
    sent = send_mail(*handle.smtp, eml=ROOT / "fixtures" / "mail" / "attachments.eml", to=[recipient])
    assert recipient in sent.accepted
    deadline = time.monotonic() + 60
    messages: list[dict[str, object]] = []
    with handle.api() as api:
        while time.monotonic() < deadline and not messages:
            listing = api.get(f"/v1/inboxes/{recipient}/messages")
            messages = listing.json().get("messages", []) if listing.status_code == 200 else []
            time.sleep(0.2)
        assert messages, f"the mail for {recipient} did not land within 60 s"
        assert api.get(f"/v1/messages/{messages[0]['id']}").status_code == 200


def test_status_says_which_snapshot_the_stack_came_from(restored: tuple[HarnessSettings, StackState,
                                                                          QuietReporter]) -> None:
    settings, state, _ = restored
    done = subprocess.run([sys.executable, "-m", "harness.cli", "status", "--run-dir", str(settings.run_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert state.snapshot is not None
    assert f"snapshot {state.snapshot['cloud'][:12]} (exact), database {state.snapshot['database'][:12]}" in done.stdout
