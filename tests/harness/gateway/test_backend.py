"""A backend behind the gateway: one endpoint for the stack, the emulator's own address kept aside."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from harness.core.reaper import processes_of
from harness.emulator.moto_process import MotoServerProcess
from harness.gateway.backend import GatewayBackend


class Owned:
    """A backend the harness owns (like MotoBackend): a moto server it starts and stops."""

    def __init__(self, run_dir: Path) -> None:
        self.server = MotoServerProcess(run_dir, die_with_parent=True)
        self.endpoint_url = self.server.endpoint

    def start(self, timeout: float) -> float:
        return self.server.start(timeout)

    def stop(self) -> None:
        self.server.stop()

    def ready(self) -> bool:
        return self.server.process.alive()

    def save_state(self, path: Path) -> dict[str, object]:
        return self.server.save_state(path)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_everything_goes_through_the_gateway_and_stops_with_it(tmp_path: Path):
    backend = GatewayBackend(Owned(tmp_path), tmp_path, die_with_parent=True)
    assert backend.endpoint_url != backend.emulator_url
    backend.start(60)
    try:
        assert backend.ready()
        sqs = boto3.client("sqs", endpoint_url=backend.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="AKIDSTACK", aws_secret_access_key="s")
        url = sqs.create_queue(QueueName="through")["QueueUrl"]
        assert url.startswith(backend.endpoint_url)
        calls = backend.gateway.calls()
        assert [(c["service"], c["operation"], c["access_key"]) for c in calls] == [
            ("sqs", "CreateQueue", "AKIDSTACK")]
        assert (tmp_path / "gateway" / "calls.jsonl").read_text().count("\n") == 1
        saved = backend.save_state(tmp_path / "state.bin")  # delegated to the emulator
        assert saved["path"] == str(tmp_path / "state.bin")
    finally:
        backend.stop()
    assert processes_of(tmp_path) == []
