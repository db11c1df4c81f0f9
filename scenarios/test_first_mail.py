"""The first end-to-end proofs: a mail over SMTP reaches Postgres and reads back through the ALB; a hung
API fleet leaves rotation after the health-check thresholds and the ECS runner replaces it."""

from __future__ import annotations

import email
import hashlib
import time
from email import policy
from pathlib import Path

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
pytestmark = pytest.mark.scenario


def _expected_attachments(eml: Path) -> dict[str, str]:
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    return {
        part.get_filename(): hashlib.sha256(part.get_payload(decode=True)).hexdigest()
        for part in message.iter_attachments()
    }


@pytest.mark.depends_on("api-service", "database", "inbound-queue", "worker-service")
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


@pytest.mark.disturbs("api-service")  # freezes the shared API fleet
@pytest.mark.depends_on("database")  # the API's health check needs it
def test_hung_api_fleet_leaves_rotation_then_is_replaced(stack, ecs, eventually, harness_settings) -> None:
    """Every API task hangs: each leaves rotation after the unhealthy threshold and ECS replaces it; with
    only the replacements registered (initial) the ALB answers 503, then serves again once they are healthy."""
    service = ecs.load_balanced()
    group = ecs.target_group(service)
    eventually(lambda: [h["State"] for h in ecs.target_health(service).values()],
               lambda s: bool(s) and all(x == "healthy" for x in s),
               timeout=90, what="every API target healthy before the fault")
    ecs.wait_past_grace(service, harness_settings.time_scale)  # the ALB's verdict, not the container's, replaces them
    with stack.https(timeout=2) as client:
        assert client.get("/health").status_code == 200

        hung = ecs.running_tasks(service["serviceName"])
        frozen_at = time.monotonic()
        for task in hung:
            ecs.freeze(task)
        eventually(lambda: [h["State"] for h in ecs.target_health(service).values()], lambda s: "healthy" not in s,
                   timeout=60, interval=0.1, what="the hung targets leaving rotation")
        out_after = time.monotonic() - frozen_at
        lower_bound = (group["UnhealthyThresholdCount"] - 1) * group["HealthCheckIntervalSeconds"]
        assert out_after >= lower_bound / harness_settings.time_scale * 0.9, f"out of rotation after {out_after:.1f}s"

        def status() -> int | str:
            try:
                return client.get("/health").status_code
            except httpx.TimeoutException:  # routed to a hung target while every target was unhealthy (fail-open)
                return "timeout"

        eventually(status, lambda code: code == 503, timeout=60, interval=0.1,
                   what="the ALB answering 503 while only the replacements (initial) are registered")
        for task in hung:
            stopped = eventually(lambda task=task: ecs.stopped_task(service["serviceName"], task["taskArn"]),
                                 timeout=120, what=f"ECS stopping {task['taskArn']}")
            assert stopped["stoppedReason"].startswith("Task failed ELB health checks in (target-group ")
        eventually(status, lambda code: code == 200, timeout=90,
                   what="the ALB serving again from the replacement tasks")
