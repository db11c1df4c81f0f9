"""Surroundings for one mailstack service process under test, without the local cloud: a throwaway
PostgreSQL cluster, an in-process moto server, the raw-mail bucket, attachments bucket and inbound queue
(with DLQ) a worker reads, and the S3 events that announce a stored mail.

Used by the services' tests (`tests/services/`) and by `benchmarks/worker_ingest.py`. Everything is real (no
mocks of psycopg or boto3) and runs on free ports.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import httpx
import psycopg
from mailstack.config import DatabaseSettings
from moto.server import ThreadedMotoServer

from harness.core.ports import free_port

REGION = "us-east-1"


class LocalPostgres:
    """A PostgreSQL cluster in a temporary directory (fsync off, trust auth, 127.0.0.1 only).

    `initdb`/`pg_ctl` refuse to run as root, so as root they run as the `postgres` user with the
    data directory owned by it.
    """

    user = "postgres"

    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self._bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
        self._base = Path(tempfile.mkdtemp(prefix="mailstack-pg-"))
        self._data = self._base / "data"
        self._run = self._base / "run"
        self._as_postgres = os.geteuid() == 0
        self._started = False

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self._bindir / tool), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def start(self) -> LocalPostgres:
        self._data.mkdir()
        self._run.mkdir()
        if self._as_postgres:
            self._base.chmod(0o755)
            shutil.chown(self._data, "postgres", "postgres")
            shutil.chown(self._run, "postgres", "postgres")
        subprocess.run(
            self._command(
                "initdb",
                "-D",
                str(self._data),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -k {self._run} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            self._command(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self._data),
                "-l",
                str(self._run / "postgres.log"),
                "-o",
                options,
            ),
            check=True,
            capture_output=True,
        )
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            subprocess.run(
                self._command("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self._data)),
                check=False,
                capture_output=True,
            )
            self._started = False
        shutil.rmtree(self._base, ignore_errors=True)

    def settings(self, dbname: str) -> DatabaseSettings:
        return DatabaseSettings(host=self.host, port=self.port, name=dbname, user=self.user,
                                password="unused")  # noqa: S106 (trust authentication: never checked)

    def create_database(self, name: str, template: str | None = None) -> DatabaseSettings:
        with psycopg.connect(self.settings("postgres").conninfo(), autocommit=True) as conn:
            template_clause = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{template_clause}")
        return self.settings(name)


class LocalMoto:
    """A moto server (all services) in a thread of this process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> LocalMoto:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self._server.stop()

    def aws_environment(self) -> dict[str, str]:
        """Standard AWS settings pointing boto3 at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }


def database_environment(settings: DatabaseSettings) -> dict[str, str]:
    return {
        "DB_HOST": settings.host,
        "DB_PORT": str(settings.port),
        "DB_NAME": settings.name,
        "DB_USER": settings.user,
        "DB_PASSWORD": settings.password,
    }


@dataclass
class MailBuckets:
    """A raw-mail bucket, an attachments bucket and an inbound queue (with DLQ) on moto."""

    raw_mail_bucket: str
    attachments_bucket: str
    queue_url: str
    dlq_url: str

    @classmethod
    def create(cls, visibility_timeout: int = 30, max_receive_count: int = 3) -> MailBuckets:
        suffix = uuid.uuid4().hex[:10]
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        raw, attachments = f"raw-{suffix}", f"attachments-{suffix}"
        s3.create_bucket(Bucket=raw)
        s3.create_bucket(Bucket=attachments)
        dlq_url = sqs.create_queue(QueueName=f"inbound-dlq-{suffix}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=f"inbound-{suffix}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive_count}"}}',
            },
        )["QueueUrl"]
        return cls(raw, attachments, queue_url, dlq_url)

    def worker_environment(self) -> dict[str, str]:
        return {
            "RAW_MAIL_BUCKET": self.raw_mail_bucket,
            "ATTACHMENTS_BUCKET": self.attachments_bucket,
            "INBOUND_QUEUE_URL": self.queue_url,
        }


def s3_record(
    bucket: str, key: str, event_name: str = "ObjectCreated:Put", event_time: str = "2024-06-03T08:15:03.120Z"
) -> dict[str, object]:
    """One S3 event record, with the key URL-encoded the way S3 sends it."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "inbound-mail",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": 1024, "eTag": "0123456789abcdef"},
        },
    }


def s3_event(bucket: str, *keys: str, event_time: str | None = None) -> str:
    times = {"event_time": event_time} if event_time else {}
    return json.dumps({"Records": [s3_record(bucket, key, **times) for key in keys]})
