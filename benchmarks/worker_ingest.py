"""Ingest throughput of one `mailstack worker` process against local PostgreSQL + moto.

    .venv/bin/python benchmarks/worker_ingest.py --messages 500

Uploads N mails to S3 (the fixture mails, cycled: attachments, inline images, charsets, ...), starts one
worker process, sends one S3 event per mail to SQS, and times from the first event sent to the last
message row committed. Prints messages/second. Uses the services' test rig (harness/testing/service_rig.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import psycopg
from mailstack.migrate import apply_migrations

from harness.testing.service_rig import (
    REGION,
    LocalMoto,
    LocalPostgres,
    MailBuckets,
    database_environment,
    s3_event,
)

MAIL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def message_count(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


def wait_for_log(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not log {text!r}:\n{path.read_text(errors='replace')}")
        time.sleep(0.05)


def run(messages: int, batch_size: int, timeout: float, worker_log: Path | None = None) -> float:
    mails = [path.read_bytes() for path in sorted(MAIL_FIXTURES.glob("*.eml"))]
    postgres, moto = LocalPostgres().start(), LocalMoto().start()
    log_path = worker_log or Path(tempfile.mkstemp(prefix="mailstack-bench-worker-", suffix=".log")[1])
    worker: subprocess.Popen[bytes] | None = None
    try:
        os.environ.update(moto.aws_environment())
        database = postgres.create_database("bench")
        apply_migrations(database)
        buckets = MailBuckets.create(visibility_timeout=120, max_receive_count=5)
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        keys = [f"inbound/bench-{i:06d}" for i in range(messages)]
        for index, key in enumerate(keys):
            s3.put_object(Bucket=buckets.raw_mail_bucket, Key=key, Body=mails[index % len(mails)])

        environment = {
            **os.environ,
            **database_environment(database),
            **buckets.worker_environment(),
            "MAILSTACK_ENV": "bench",
            "LOG_LEVEL": "INFO",
            "WORKER_WAIT_TIME_SECONDS": "1",
            "WORKER_BATCH_SIZE": str(batch_size),
        }
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "mailstack", "worker"], env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_log(log_path, "worker started", worker)

        started = time.monotonic()
        for first in range(0, messages, 10):
            entries = [
                {"Id": str(i), "MessageBody": s3_event(buckets.raw_mail_bucket, key)}
                for i, key in enumerate(keys[first : first + 10])
            ]
            sqs.send_message_batch(QueueUrl=buckets.queue_url, Entries=entries)
        with psycopg.connect(database.conninfo(), autocommit=True) as conn:
            while (done := message_count(conn)) < messages:
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"only {done}/{messages} messages ingested within {timeout}s")
                if worker.poll() is not None:
                    raise RuntimeError(f"worker exited:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.05)
        return time.monotonic() - started
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
        moto.stop()
        postgres.stop()
        if worker_log is None:
            log_path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500, help="mails to ingest (default 500)")
    parser.add_argument("--batch-size", type=int, default=10, help="WORKER_BATCH_SIZE (default 10)")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    parser.add_argument("--worker-log", type=Path, help="keep the worker's JSON log in this file")
    args = parser.parse_args()
    elapsed = run(args.messages, args.batch_size, args.timeout, args.worker_log)
    print(
        f"worker ingest: {args.messages} messages in {elapsed:.2f} s = {args.messages / elapsed:.1f} messages/second "
        f"(1 worker process, batch size {args.batch_size}, local PostgreSQL + moto server)"
    )


if __name__ == "__main__":
    main()
