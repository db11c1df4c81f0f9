"""Failure diagnosis for scenarios: what the local cloud did with each mail a failed test sent.

`failure_report(handle, mails)` gives, as text for a pytest report section,

- the trace of each mail: SMTP (accepted / refused recipients, SES message id) → the receipt rules and
  actions SES inbound ran (`ses/traces.jsonl`) → the S3 key it stored → each SQS message the worker saw
  for that key, with its receive counts and outcomes (the worker's JSON log) → the database row, or
  "in the DLQ" (receives reached the inbound queue's maxReceiveCount) or "not ingested";
- the last lines of each ECS task's log (`<run dir>/ecs/tasks/<task id>/<container>.log`).

It never raises: a piece it cannot read is reported as such, so a broken stack still gets a diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.core.rundir import RunDir
from harness.testing.handle import StackHandle

TAIL_LINES = 20
MAX_TASKS = 16
# Access-log lines of the ALB's and the container's health checks: they would fill every API task's tail.
_HEALTH_CHECK = '"GET /health '


class SentMail(Protocol):
    """What `harness.testing.smtp_client.send_mail` returns (`SendResult`)."""

    message_id: str | None
    accepted: list[str]
    refused: dict[str, tuple[int, str]]


@dataclass
class _Delivery:
    """One SQS message the worker handled for an S3 key."""

    sqs_message_id: str
    receive_counts: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    message_uuid: str | None = None


def read_json_lines(path: Path) -> Iterable[dict[str, Any]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            yield entry


def _task_logs(run_dir: Path) -> list[Path]:
    """Every container log of every ECS task the runner started, newest first."""
    return sorted(RunDir(run_dir).task_logs(), key=lambda p: p.stat().st_mtime, reverse=True)


def _task_labels(handle: StackHandle) -> dict[str, str]:
    """task id → "service lastStatus", from what the data plane publishes."""
    labels: dict[str, str] = {}
    try:
        handle.refresh()
        services = handle.runtime.ecs.services.values() if handle.runtime.ecs else ()
        for service in services:
            for task in service.tasks:
                task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
                labels[task_id] = f"{service.serviceName} {task.get('lastStatus', '?')}"
    except Exception as exc:  # the runtime may be the thing that broke
        labels["?"] = f"(runtime.json unreadable: {type(exc).__name__}: {exc})"
    return labels


def _worker_deliveries(run_dir: Path) -> dict[str, dict[str, _Delivery]]:
    """s3 key → SQS message id → what the worker logged for it, in log order."""
    entries = [
        entry
        for path in RunDir(run_dir).task_logs()
        for entry in read_json_lines(path)
        if entry.get("s3_key") and entry.get("sqs_message_id")
    ]
    entries.sort(key=lambda e: str(e.get("time", "")))
    by_key: dict[str, dict[str, _Delivery]] = {}
    for entry in entries:
        message_id = str(entry["sqs_message_id"])
        delivery = by_key.setdefault(str(entry["s3_key"]), {}).setdefault(message_id, _Delivery(message_id))
        if entry.get("receive_count") is not None:
            delivery.receive_counts.append(int(entry["receive_count"]))
        delivery.outcomes.append(str(entry.get("outcome", entry.get("message", "?"))))
        if entry.get("reason"):
            delivery.reasons.append(str(entry["reason"]))
        if entry.get("message_uuid"):
            delivery.message_uuid = str(entry["message_uuid"])
    return by_key


def _max_receive_count(handle: StackHandle, bucket: str) -> tuple[int | None, str | None]:
    """maxReceiveCount and DLQ name of the queue the bucket notifies (its RedrivePolicy)."""
    try:
        configuration = handle.aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        for queue in configuration.get("QueueConfigurations", []):
            _, _, _, _, account, name = queue["QueueArn"].split(":")
            sqs = handle.aws.client("sqs")
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
            if "RedrivePolicy" in attributes:
                policy = json.loads(attributes["RedrivePolicy"])
                return int(policy["maxReceiveCount"]), str(policy["deadLetterTargetArn"]).rsplit(":", 1)[-1]
    except Exception:  # the diagnosis goes on without it: "not ingested" instead of "in the DLQ"
        return None, None
    return None, None


def _row_id(handle: StackHandle, bucket: str, key: str) -> str:
    try:
        with handle.db() as db:
            row = db.execute("select id from messages where raw_bucket = %s and raw_key = %s", (bucket, key)).fetchone()
    except Exception as exc:
        return f"database unreadable ({type(exc).__name__}: {exc})"
    return f"row messages.id={row[0]}" if row else ""


def _trace_lines(
    handle: StackHandle, mail: SentMail, traces: dict[str, dict[str, Any]], deliveries: dict[str, dict[str, _Delivery]]
) -> list[str]:
    lines = [
        f"mail {mail.message_id or '(no SES message id)'}: SMTP accepted {list(mail.accepted)}"
        + (f", refused {dict(mail.refused)}" if mail.refused else "")
    ]
    if not mail.message_id:
        return [*lines, "  no SES message id in the 250 reply: nothing was stored"]
    trace = traces.get(mail.message_id)
    if trace is None:
        return [*lines, "  no SES inbound trace for this message id (ses/traces.jsonl)"]
    for error in trace.get("errors", []):
        lines.append(f"  SES error: {error}")
    if not trace.get("rules"):
        lines.append(f"  no rule of {trace.get('ruleSet')!r} matched {trace.get('recipients')}")
    for rule in trace.get("rules", []):
        lines.append(
            f"  rule {rule.get('rule')!r} for {rule.get('recipients')}"
            + (f" skipped: {rule['skipped']}" if rule.get("skipped") else "")
        )
        for action in rule.get("actions", []):
            detail = ", ".join(
                f"{k}={action[k]}"
                for k in ("bucket", "key", "topicArn", "snsMessageId", "bounceId", "error", "reason")
                if action.get(k)
            )
            lines.append(f"    {action.get('type')} {action.get('status', '?')}" + (f": {detail}" if detail else ""))
            if action.get("type") == "S3" and action.get("key"):
                lines.extend(_ingest_lines(handle, str(action["bucket"]), str(action["key"]), deliveries))
    if trace.get("stoppedBy"):
        lines.append(f"  stopped by rule {trace['stoppedBy']!r}")
    return lines


def _runs(items: list[str]) -> list[str]:
    """["a", "a", "b"] → ["a (2 times)", "b"]."""
    runs: list[list[Any]] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    return [f"{item} ({count} times)" if count > 1 else str(item) for item, count in runs]


def _ingest_lines(handle: StackHandle, bucket: str, key: str, deliveries: dict[str, dict[str, _Delivery]]) -> list[str]:
    lines: list[str] = []
    seen = deliveries.get(key, {})
    if not seen:
        lines.append("      worker: no SQS message for this key in any worker log")
    for delivery in seen.values():
        counts = ",".join(str(c) for c in delivery.receive_counts) or "?"
        outcome = " → ".join(_runs(delivery.outcomes))
        reason = f" ({delivery.reasons[-1]})" if delivery.reasons else ""
        lines.append(f"      SQS {delivery.sqs_message_id}: receives {counts}: {outcome}{reason}")
    row = _row_id(handle, bucket, key)
    if row:
        lines.append(f"      → {row}")
        return lines
    max_receives, dlq = _max_receive_count(handle, bucket)
    dead = [d for d in seen.values() if max_receives and d.receive_counts and max(d.receive_counts) >= max_receives]
    if dead:
        lines.append(f"      → in the DLQ {dlq}: received {max_receives} times (maxReceiveCount), never ingested")
    else:
        lines.append("      → not ingested")
    return lines


def _tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a log, health-check requests left out."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return [f"(unreadable: {exc})"]
    return [line for line in data.splitlines() if _HEALTH_CHECK not in line][-lines:]


def failure_report(handle: StackHandle, mails: Sequence[SentMail], tail_lines: int = TAIL_LINES) -> str:
    """What happened to each mail the test sent, and the tail of each ECS task's log."""
    out: list[str] = []
    try:
        traces = {str(t.get("messageId")): t for t in handle.ses_traces()}
    except Exception as exc:
        traces = {}
        out.append(f"SES traces unreadable: {type(exc).__name__}: {exc}")
    deliveries = _worker_deliveries(handle.run_dir)
    if mails:
        out.append("== mails this test sent")
    for mail in mails:
        try:
            out.extend(_trace_lines(handle, mail, traces, deliveries))
        except Exception as exc:
            out.append(f"mail {getattr(mail, 'message_id', '?')}: trace failed: {type(exc).__name__}: {exc}")

    logs = _task_logs(handle.run_dir)
    labels = _task_labels(handle)
    out.append(f"== ECS task logs (last {tail_lines} lines each but health checks, newest first)")
    if "?" in labels:
        out.append(labels.pop("?"))
    for path in logs[:MAX_TASKS]:
        task_id = path.parent.name
        out.append(f"-- {labels.get(task_id, 'stopped/unknown task')} {task_id} {path.name}")
        out.extend(f"   {line}" for line in _tail(path, tail_lines))
    if len(logs) > MAX_TASKS:
        out.append(f"({len(logs) - MAX_TASKS} older task logs under {handle.paths.task_logs_dir})")
    if not logs:
        out.append(f"(no task logs under {handle.paths.task_logs_dir})")
    return "\n".join(out)
