"""The first end-to-end proofs: a mail over SMTP reaches Postgres and reads back through the ALB; a hung
API fleet leaves rotation after the health-check thresholds and the ECS runner replaces it."""

from __future__ import annotations

import email
import hashlib
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest

from harness.chaos import freeze_task, running_tasks, thaw_task

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
pytestmark = pytest.mark.scenario


def _expected_attachments(eml: Path) -> dict[str, str]:
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    return {
        part.get_filename(): hashlib.sha256(part.get_payload(decode=True)).hexdigest()
        for part in message.iter_attachments()
    }


def test_mail_over_smtp_lands_in_postgres_and_reads_back_through_the_alb(mail, api, db, eventually) -> None:
    eml = FIXTURES / "attachments.eml"
    recipient = mail.address("billing")
    sent = mail.send(eml=eml, to=[recipient])
    assert sent.message_id

    listing = eventually(lambda: api.get(f"/v1/inboxes/{recipient}/messages").json()["messages"],
                         timeout=60, what=f"a message in {recipient}'s inbox")
    assert len(listing) == 1
    detail = api.get(f"/v1/messages/{listing[0]['id']}").json()
    original = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert detail["subject"] == original["subject"]
    assert {a["filename"]: a["sha256"] for a in detail["attachments"]} == _expected_attachments(eml)

    raw_key = db.execute("select raw_key from messages where id = %s", (listing[0]["id"],)).fetchone()[0]
    assert raw_key.endswith(sent.message_id)  # the S3 key SES wrote: rule prefix + SES message id
    raw = api.get(f"/v1/messages/{listing[0]['id']}/raw")
    assert raw.status_code == 200 and original["message-id"].encode() in raw.content


def _api_service(aws: Any) -> tuple[str, str, dict[str, Any]]:
    """The ECS service behind the ALB, and its target group (read back from the emulator)."""
    ecs = aws.client("ecs")
    for cluster in ecs.list_clusters()["clusterArns"]:
        for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
            service = ecs.describe_services(cluster=cluster, services=[arn])["services"][0]
            if service["loadBalancers"]:
                tg_arn = service["loadBalancers"][0]["targetGroupArn"]
                [group] = aws.client("elbv2").describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"]
                return service["serviceName"], tg_arn, group
    raise AssertionError("no ECS service is registered with a load balancer")


def _target_states(aws: Any, tg_arn: str) -> list[str]:
    descriptions = aws.client("elbv2").describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    return [d["TargetHealth"]["State"] for d in descriptions]


@pytest.mark.own_stack  # freezes the shared API fleet
def test_hung_api_tasks_leave_rotation_then_are_replaced(stack, aws, eventually, harness_settings) -> None:
    service_name, tg_arn, group = _api_service(aws)
    eventually(lambda: _target_states(aws, tg_arn), lambda s: bool(s) and all(x == "healthy" for x in s),
               timeout=90, what="every API target healthy before the fault")
    health_url = "/health"
    with stack.https() as client:
        assert client.get(health_url).status_code == 200

        hung = running_tasks(stack, service_name)
        frozen_at = time.monotonic()
        for task in hung:
            freeze_task(task)
        try:
            eventually(lambda: _target_states(aws, tg_arn), lambda s: "healthy" not in s,
                       timeout=60, what="the hung targets leaving rotation")
            out_after = time.monotonic() - frozen_at
            scale = harness_settings.time_scale
            lower_bound = (group["UnhealthyThresholdCount"] - 1) * group["HealthCheckIntervalSeconds"] / scale
            assert out_after >= lower_bound * 0.9, f"out of rotation after {out_after:.1f}s < thresholds allow"
            eventually(lambda: client.get(health_url).status_code, lambda code: code == 503,
                       timeout=30, what="the ALB answering 503 with no healthy target")

            hung_ids = {task["taskArn"] for task in hung}
            eventually(lambda: {t["taskArn"] for t in running_tasks(stack, service_name)},
                       lambda ids: bool(ids) and not ids & hung_ids,
                       timeout=120, what="the ECS runner replacing the hung tasks")
            eventually(lambda: client.get(health_url).status_code, lambda code: code == 200,
                       timeout=90, what="the ALB serving again from the replacement tasks")
        finally:
            for task in hung:
                thaw_task(task)
