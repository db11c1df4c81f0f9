"""Running `mailstack api` as a real process on a free port, for tests over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from harness.core.ports import free_port
from harness.testing.service_rig import MailBuckets, database_environment

if TYPE_CHECKING:
    from mailstack.config import DatabaseSettings

    from harness.testing.service_rig import LocalMoto


def api_environment(
    moto: LocalMoto, database: DatabaseSettings, buckets: MailBuckets, *, token: str, trusted_cert_url_pattern: str,
    topic_arns: str, max_body_bytes: int,
) -> dict[str, str]:
    """The environment `mailstack api` needs against a test database, buckets and SNS signer."""
    return {
        **moto.aws_environment(),
        **database_environment(database),
        "MAILSTACK_ENV": "test",
        "RAW_MAIL_BUCKET": buckets.raw_mail_bucket,
        "ATTACHMENTS_BUCKET": buckets.attachments_bucket,
        "API_TOKEN": token,
        "SNS_TRUSTED_CERT_URL_PATTERN": trusted_cert_url_pattern,
        "SNS_TOPIC_ARNS": topic_arns,
        "API_MAX_BODY_BYTES": str(max_body_bytes),
    }


@dataclass
class ApiProcess:
    environment: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="mailstack-api-", suffix=".log")[1]))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_for_status: int | None = 200, timeout: float = 30) -> ApiProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mailstack", "api"],
                env={**os.environ, **self.environment, "PORT": str(self.port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mailstack api exited with {self.process.returncode}:\n{self.logs()}")
            try:
                status = httpx.get(f"{self.base_url}/health", timeout=5).status_code
                if wait_for_status is None or status == wait_for_status:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mailstack api not ready within {timeout}s:\n{self.logs()}")
            time.sleep(0.1)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
