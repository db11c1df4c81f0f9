"""`mailstack worker` as a real process: JSON logs on stdout, graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import psycopg
import pytest

from harness.testing.service_rig import REGION, database_environment, s3_event
from tests.services.mail_factory import simple_mail

pytestmark = pytest.mark.slow


def start_worker(environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailstack", "worker"],
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(conninfo: str, expected: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(conninfo) as conn:
            if conn.execute("SELECT count(*) FROM messages").fetchone()[0] >= expected:
                return
        time.sleep(0.1)
    raise AssertionError(f"{expected} messages not ingested within {timeout}s")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_worker_ingests_logs_json_and_stops_gracefully(database, mail_buckets, base_environment, stop_signal):
    environment = {
        **base_environment,
        **database_environment(database),
        **mail_buckets.worker_environment(),
        "WORKER_WAIT_TIME_SECONDS": "1",
    }
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    process = start_worker(environment)
    try:
        s3.put_object(Bucket=mail_buckets.raw_mail_bucket, Key="inbound/p 1", Body=simple_mail("process"))
        sqs.send_message(
            QueueUrl=mail_buckets.queue_url, MessageBody=s3_event(mail_buckets.raw_mail_bucket, "inbound/p 1")
        )
        wait_for_rows(database.conninfo(), 1)
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    entries = [json.loads(line) for line in stdout.splitlines() if line.strip()]  # every line is JSON
    ingested = [e for e in entries if e.get("outcome") == "ingested"]
    assert len(ingested) == 1
    assert ingested[0]["s3_key"] == "inbound/p 1"
    assert ingested[0]["sqs_message_id"]
    assert ingested[0]["service"] == "worker" and ingested[0]["env"] == "test"
    messages = [e["message"] for e in entries]
    assert "stop requested: finishing the message in hand" in messages
    assert messages[-1] == "worker stopped"


def test_worker_refuses_to_start_without_its_queue(base_environment, database):
    environment = {
        **base_environment,
        **database_environment(database),
        "RAW_MAIL_BUCKET": "r",
        "ATTACHMENTS_BUCKET": "a",
    }
    process = start_worker({k: v for k, v in environment.items()})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "missing environment variable INBOUND_QUEUE_URL" in stderr
