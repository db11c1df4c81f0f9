"""Mail latency through the whole local cloud, and the sustained ingest rate of one worker task.

Latency: from SES inbound accepting DATA (the trace's acceptedAt) to the worker's ingest transaction
(messages.ingested_at), for mails sent at a steady pace. Rate: a burst sent as fast as SMTP takes it,
from the first acceptance to the last ingest.

Usage: .venv/bin/python benchmarks/mail_latency.py [--mails 200] [--pace 5] [--burst 200] [--run-dir .harness]
Boots the local cloud first if none is running (reused otherwise; left running afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from harness.core.config import HarnessSettings
from harness.core.probes import eventually
from harness.core.progress import ConsoleReporter
from harness.stack import Stack
from harness.testing.handle import StackHandle
from harness.testing.smtp_client import send_mail


def _send_one(handle: StackHandle, tag: str, index: int) -> str:
    host, port = handle.smtp
    result = send_mail(host, port, sender="bench@example.org", to=[f"bench+{tag}@{handle.mail_domains[0]}"],
                       subject=f"bench {tag} {index}", body="x" * 2000, ca_bundle=handle.ca_bundle)
    return str(result.message_id)


def _send_paced(handle: StackHandle, count: int, pace: float, tag: str) -> list[str]:
    ids = []
    for index in range(count):
        started = time.monotonic()
        ids.append(_send_one(handle, tag, index))
        time.sleep(max(0.0, 1.0 / pace - (time.monotonic() - started)))
    return ids


def _send_burst(handle: StackHandle, count: int, senders: int, tag: str) -> list[str]:
    with ThreadPoolExecutor(max_workers=senders) as pool:
        return list(pool.map(lambda index: _send_one(handle, tag, index), range(count)))


def _accepted_at(handle: StackHandle, ids: list[str]) -> dict[str, datetime]:
    traces = {trace["messageId"]: trace for trace in handle.ses_traces()}
    return {i: datetime.fromisoformat(str(traces[i]["acceptedAt"]).replace("Z", "+00:00")) for i in ids}


def _ingested_at(handle: StackHandle, ids: list[str]) -> dict[str, datetime]:
    """SES message id -> ingest time; the S3 key the worker ingested ends with the SES message id."""
    with handle.db() as conn:
        rows = conn.execute(
            "select split_part(raw_key, '/', -1) as ses_id, ingested_at from messages"
            " where split_part(raw_key, '/', -1) = any(%s)",
            (ids,),
        ).fetchall()
    return dict(rows)


def _wait_ingested(handle: StackHandle, ids: list[str], timeout: float) -> dict[str, datetime]:
    return eventually(lambda: _ingested_at(handle, ids), lambda got: len(got) == len(ids), timeout=timeout,
                      interval=0.5, what=f"{len(ids)} mails ingested")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=200, help="mails for the latency run")
    parser.add_argument("--pace", type=float, default=5.0, help="mails per second in the latency run")
    parser.add_argument("--burst", type=int, default=200, help="mails for the sustained-rate run")
    parser.add_argument("--senders", type=int, default=8, help="concurrent SMTP clients in the burst")
    parser.add_argument("--run-dir", type=Path, default=Path(".harness"))
    args = parser.parse_args()
    settings = HarnessSettings(run_dir=args.run_dir)
    Stack(settings, ConsoleReporter(), detached=True).up()
    handle = StackHandle.attach(settings)

    tag = uuid.uuid4().hex[:8]
    ids = _send_paced(handle, args.mails, args.pace, tag)
    ingested = _wait_ingested(handle, ids, timeout=args.mails / args.pace + 120)
    accepted = _accepted_at(handle, ids)
    latencies = sorted((ingested[i] - accepted[i]).total_seconds() * 1000 for i in ids)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"latency SMTP DATA accepted -> ingest transaction, {args.mails} mails at {args.pace}/s:")
    print(f"  p50 {quantiles[49]:.0f} ms   p99 {quantiles[98]:.0f} ms   max {latencies[-1]:.0f} ms")

    tag = uuid.uuid4().hex[:8]
    ids = _send_burst(handle, args.burst, args.senders, tag)
    ingested = _wait_ingested(handle, ids, timeout=args.burst * 2 + 60)
    accepted = _accepted_at(handle, ids)
    span = (max(ingested.values()) - min(accepted.values())).total_seconds()
    smtp_span = (max(accepted.values()) - min(accepted.values())).total_seconds()
    ingest_span = (max(ingested.values()) - min(ingested.values())).total_seconds()
    print(f"sustained: {args.burst} mails from {args.senders} concurrent SMTP clients, one worker task")
    print(f"  SMTP accepted {args.burst / smtp_span:.1f} mails/s; worker ingested {args.burst / ingest_span:.1f}"
          f" mails/s; end to end {args.burst / span:.1f} mails/s ({span:.1f} s first accepted -> last ingested)")


if __name__ == "__main__":
    main()
