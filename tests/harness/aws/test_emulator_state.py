"""Emulator state: a moto server's state saved, the server stopped, a new server (another port) restored from
the file, on real `python -m harness.emulator.moto_server` processes with every fidelity patch."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
from botocore.config import Config

from harness.aws import fidelity as patches
from harness.core.errors import HarnessError
from harness.emulator import state
from harness.emulator.moto_process import MotoServerProcess
from harness.testing import aws_resources
from tests.harness.aws.support import Aws, until

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Saved:
    path: Path
    made: dict[str, Any]
    described: dict[str, Any]
    answer: dict[str, Any]
    endpoint: str


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The platform-sized resource set, made on one server, described, saved; the server is stopped."""
    run_dir = tmp_path_factory.mktemp("state-source")
    with MotoServerProcess(run_dir) as server:
        aws = Aws(server.endpoint, patched=True)
        made = aws_resources.create(aws.client)
        described = aws_resources.describe(aws.client, made)
        answer = server.save_state(run_dir / "emulator.state")
    return Saved(run_dir / "emulator.state", made, described, answer, server.endpoint)


@pytest.fixture
def restored(saved: Saved, tmp_path: Path) -> Iterator[Aws]:
    with MotoServerProcess(tmp_path, restore=saved.path) as server:
        assert server.endpoint != saved.endpoint
        yield Aws(server.endpoint, patched=True)


def test_save_answers_what_it_wrote(saved: Saved) -> None:
    header, _ = state.read_header(saved.path)
    assert saved.answer["size"] == saved.path.stat().st_size
    assert {"sqs", "s3", "sns", "ec2", "elbv2", "ecs", "rds", "kms", "ssm", "secretsmanager", "cloudwatch", "ses",
            "iam", "logs", "route53", "acm", "application-autoscaling"} <= set(saved.answer["services"])
    assert header["endpoint"] == saved.endpoint
    assert header["patches"] == list(patches.discover())
    assert header["moto"] == moto.__version__


def test_every_resource_describes_identically_after_a_restore(saved: Saved, restored: Aws) -> None:
    assert aws_resources.describe(restored.client, saved.made) == saved.described


def test_key_material_survives_the_restore(saved: Saved, restored: Aws) -> None:
    kms = restored.client("kms")
    assert kms.decrypt(CiphertextBlob=saved.made["ciphertext"])["Plaintext"] == b"sealed before the save"
    assert kms.verify(
        KeyId=saved.made["sign_key"], Message=b"signed before the save", Signature=saved.made["signature"],
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["SignatureValid"]
    ssm = restored.client("ssm")
    assert ssm.get_parameter(Name=saved.made["parameters"][0], WithDecryption=True)["Parameter"]["Value"] == "s3cr3t"


def test_the_restored_server_keeps_working(saved: Saved, restored: Aws) -> None:
    sqs = restored.client("sqs")
    ingest = next(url for url in saved.made["queues"] if url.endswith("-ingest"))
    ingest_here = sqs.get_queue_url(QueueName=ingest.rsplit("/", 1)[-1])["QueueUrl"]
    assert ingest_here.startswith(restored.endpoint)  # queue URLs name the server that answers
    received = sqs.receive_message(QueueUrl=ingest_here, MaxNumberOfMessages=10)["Messages"]
    bodies = sorted(m["Body"] for m in received)  # and S3's s3:TestEvent from the notification configuration
    assert bodies[0] == "kept across the restore" and '"s3:TestEvent"' in bodies[1], bodies
    for message in received:
        sqs.delete_message(QueueUrl=ingest_here, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=ingest_here)
    new_queue = sqs.create_queue(QueueName="made-after-restore")["QueueUrl"]
    sqs.send_message(QueueUrl=new_queue, MessageBody="new")
    assert sqs.receive_message(QueueUrl=new_queue)["Messages"][0]["Body"] == "new"

    ec2 = restored.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    assert vpc != saved.made["vpc"]
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} >= {vpc, saved.made["vpc"]}

    ssm = restored.client("ssm")
    name = saved.made["parameters"][1]
    assert ssm.put_parameter(Name=name, Value="paused", Type="String", Overwrite=True)["Version"] == 2

    ecs = restored.client("ecs")
    ecs.update_service(cluster=saved.made["cluster"], service=saved.made["service"], desiredCount=3)
    service = ecs.describe_services(cluster=saved.made["cluster"], services=[saved.made["service"]])["services"][0]
    assert service["desiredCount"] == 3


def test_the_alb_fidelity_patches_apply_to_restored_target_groups(saved: Saved, restored: Aws) -> None:
    elbv2 = restored.client("elbv2")
    group = saved.made["target_group"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.20.1.10", "Port": 8003}])
    health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    # keyed by (Id, Port) (elbv2-target-health-truth): stock moto would keep one target per Id
    assert sorted(t["Target"]["Port"] for t in health) == [8001, 8002, 8003]
    elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": "10.20.1.10", "Port": 8001}])
    ports = sorted(t["Target"]["Port"] for t in elbv2.describe_target_health(TargetGroupArn=group)[
        "TargetHealthDescriptions"])
    assert ports == [8002, 8003]


# ------------------------------------------------------------------ files it must refuse


def _rewritten_header(source: Path, target: Path, **changes: Any) -> Path:
    header, body = state.read_header(source)
    target.write_bytes(state.MAGIC + json.dumps({**header, **changes}).encode() + b"\n" + body)
    return target


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("truncated", "truncated or corrupt"),
        ("flipped byte", "truncated or corrupt"),
        ("other moto", "moto '5.0.0' in the file"),
        ("other patches", "fidelity patches differ (only in the file: -; only in this server: sns-http-delivery)"),
        ("not a state file", "not an emulator state file"),
    ],
)
def test_a_file_it_cannot_restore_is_one_clear_error_and_no_server(
    saved: Saved, tmp_path: Path, damage: str, said: str
) -> None:
    bad = tmp_path / "bad.state"
    data = saved.path.read_bytes()
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        bad.write_bytes(data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:])
    elif damage == "other moto":
        _rewritten_header(saved.path, bad, moto="5.0.0")
    elif damage == "other patches":
        header, _ = state.read_header(saved.path)
        _rewritten_header(saved.path, bad, patches=[p for p in header["patches"] if p != "sns-http-delivery"])
    else:
        bad.write_text("terraform.tfstate, not an emulator state\n")
    server = MotoServerProcess(tmp_path, restore=bad)
    with pytest.raises(HarnessError) as failure:
        server.start(timeout=60)
    message = str(failure.value)
    assert "exited with code 2" in message
    assert f"cannot restore the emulator state {bad}" in message
    assert said in message
    assert "Traceback" not in message
    with pytest.raises(OSError):
        urllib.request.urlopen(server.endpoint + "/moto-api/", timeout=2)


# ------------------------------------------------------------------ consistency under concurrent writes


def test_a_save_is_one_point_in_time_while_requests_keep_writing(tmp_path: Path) -> None:
    """Two writers each log message i to an SQS queue, then put SSM parameter i. The dump pickles SQS first,
    then IAM (large: the managed policies), then SSM; any state between requests has, per writer, as many
    parameters as log messages or one fewer. A dump that let the writers run on would find more parameters
    (written after SQS was pickled) than log messages."""
    with MotoServerProcess(tmp_path / "source") as server:
        aws = Aws(server.endpoint, patched=True)
        log_url = aws.client("sqs").create_queue(QueueName="writer-log")["QueueUrl"]
        aws.client("iam").list_roles()
        stop = threading.Event()
        written = {"a": 0, "b": 0}

        def write(name: str) -> None:
            sqs, ssm = aws.client("sqs"), aws.client("ssm")
            while not stop.is_set():
                i = written[name]
                sqs.send_message(QueueUrl=log_url, MessageBody=f"{name}:{i}")
                ssm.put_parameter(Name=f"/writer/{name}/{i}", Value=str(i), Type="String")
                written[name] = i + 1

        writers = [threading.Thread(target=write, args=(name,)) for name in written]
        for writer in writers:
            writer.start()
        try:
            until(lambda: min(written.values()) >= 5, timeout=60)
            answers = [server.save_state(tmp_path / f"during-{n}.state") for n in range(3)]
            at_last_save = dict(written)
            until(lambda: min(written.values()) >= at_last_save["a"] + 5, timeout=60)
        finally:
            stop.set()
            for writer in writers:
                writer.join(30)
    assert all(answer["size"] > 0 for answer in answers)

    for n in range(len(answers)):  # each save is a chance for a torn one: check them all
        _assert_consistent(tmp_path / f"during-{n}.state", tmp_path / f"restored-{n}", written)


def _assert_consistent(saved: Path, run_dir: Path, written: dict[str, int]) -> None:
    with MotoServerProcess(run_dir, restore=saved) as restored:
        client = Aws(restored.endpoint, patched=True).client
        sqs, ssm = client("sqs"), client("ssm")
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/writer", Recursive=True)
        parameters = [p["Name"] for page in pages for p in page["Parameters"]]
        log_here = sqs.get_queue_url(QueueName="writer-log")["QueueUrl"]
        logged: list[str] = []
        while batch := sqs.receive_message(QueueUrl=log_here, MaxNumberOfMessages=10).get("Messages", []):
            logged += [m["Body"] for m in batch]
    for name in written:
        put = sorted(int(p.rsplit("/", 1)[-1]) for p in parameters if p.startswith(f"/writer/{name}/"))
        entries = sorted(int(body.split(":")[1]) for body in logged if body.startswith(f"{name}:"))
        assert entries == list(range(len(entries))), f"{saved.name}, writer {name}: log {entries} is not a prefix"
        assert put == list(range(len(put))), f"{saved.name}, writer {name}: parameters {put} are not a prefix"
        assert len(entries) - 1 <= len(put) <= len(entries), (
            f"{saved.name}, writer {name}: {len(entries)} logged, {len(put)} put"
        )
        assert 0 < len(entries) < written[name]  # the state is of a moment during the writing


# ------------------------------------------------------------------ SNS http subscriptions across a restore


class _Endpoint(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append(json.loads(body))
                handler.send_response(200)
                handler.end_headers()

            def log_message(handler, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sns"


def test_a_pending_http_subscription_can_confirm_on_the_restored_server(tmp_path: Path) -> None:
    endpoint = _Endpoint()
    try:
        with MotoServerProcess(tmp_path / "source") as server:
            sns = Aws(server.endpoint, patched=True).client("sns")
            topic = sns.create_topic(Name="alerts")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
            first = until(lambda: list(endpoint.received), timeout=30)[0]
            server.save_state(tmp_path / "pending.state")
        endpoint.received.clear()
        with MotoServerProcess(tmp_path / "restored", restore=tmp_path / "pending.state") as restored:
            again = until(lambda: list(endpoint.received), timeout=30)
            assert again[0]["Type"] == "SubscriptionConfirmation"
            assert again[0]["SubscribeURL"].startswith(restored.endpoint)  # not the stopped server's port
            sns = Aws(restored.endpoint, patched=True).client("sns")
            # the token delivered before the save still confirms, too
            arn = sns.confirm_subscription(TopicArn=topic, Token=first["Token"])["SubscriptionArn"]
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            assert attributes["PendingConfirmation"] == "false"
            sns.publish(TopicArn=topic, Message="after the restore")
            notification = until(
                lambda: [m for m in endpoint.received if m.get("Type") == "Notification"], timeout=30
            )[0]
            assert notification["Message"] == "after the restore"
            assert notification["SigningCertURL"].startswith(restored.endpoint)
            base64.b64decode(notification["Signature"])
    finally:
        endpoint.shutdown()


# ------------------------------------------------------------------ an SQS message move task across a restore


def test_a_running_message_move_task_carries_on_after_the_restore(tmp_path: Path) -> None:
    with MotoServerProcess(tmp_path / "source") as server:
        sqs = Aws(server.endpoint, patched=True).client("sqs")
        dlq = sqs.create_queue(QueueName="move-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(QueueName="move-source", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
        target = sqs.create_queue(QueueName="move-target")["QueueUrl"]
        target_arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for n in range(6):
            sqs.send_message(QueueUrl=dlq, MessageBody=f"m{n}")
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=target_arn, MaxNumberOfMessagesPerSecond=2)
        until(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["ApproximateNumberOfMessagesMoved"],
              timeout=10)
        server.save_state(tmp_path / "moving.state")
    with MotoServerProcess(tmp_path / "restored", restore=tmp_path / "moving.state") as restored:
        sqs = Aws(restored.endpoint, patched=True).client("sqs")
        task = until(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                              if t["Status"] == "COMPLETED"], timeout=30)
        assert task and task[0]["ApproximateNumberOfMessagesMoved"] == 6
        target_here = sqs.get_queue_url(QueueName="move-target")["QueueUrl"]
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=target_here, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in batch]
        assert sorted(bodies) == [f"m{n}" for n in range(6)]


def test_a_long_poll_in_progress_does_not_hold_up_the_save(tmp_path: Path) -> None:
    with MotoServerProcess(tmp_path) as server:
        sqs = Aws(server.endpoint, patched=True).client("sqs")
        queue = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
        polled: list[Any] = []
        # a client that waits out the whole poll (the default test client times out after 15 s and retries)
        poller = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(read_timeout=60, retries={"total_max_attempts": 1}))
        poll = threading.Thread(
            target=lambda: polled.append(poller.receive_message(QueueUrl=queue, WaitTimeSeconds=20).get("Messages"))
        )
        poll.start()
        time.sleep(1.0)  # let the poll reach the server, where it waits (up to 20 s) for a message
        answer = server.save_state(tmp_path / "while-polling.state")
        assert poll.is_alive() and not polled  # saved while the poll still waits (it lasts up to 20 s)
        Aws(server.endpoint, patched=True).client("sqs").send_message(QueueUrl=queue, MessageBody="after the save")
        poll.join(25)
        assert polled and polled[0][0]["Body"] == "after the save"  # the poll, back in the gate, got it
    assert answer["size"] > 0


def test_a_string_naming_the_saving_server_names_the_restoring_one(tmp_path: Path) -> None:
    """Terraform puts queue URLs (the server's own address) into task definitions; after a restore on another
    port they must lead to the restored server, not to the dead one."""
    with MotoServerProcess(tmp_path / "source") as server:
        aws = Aws(server.endpoint, patched=True)
        url = aws.client("sqs").create_queue(QueueName="jobs")["QueueUrl"]
        port = server.endpoint.rsplit(":", 1)[1]
        env = [{"name": "QUEUE_URL", "value": url}, {"name": "ALSO", "value": f"http://localhost:{port}/x"},
               {"name": "OTHER_PORT", "value": "127.0.0.1:1"}]
        aws.client("ecs").register_task_definition(
            family="worker", containerDefinitions=[{"name": "w", "image": "w", "memory": 128, "environment": env}])
        server.save_state(tmp_path / "emulator.state")
        saving = server.endpoint
    with MotoServerProcess(tmp_path / "target", restore=tmp_path / "emulator.state") as server:
        assert server.endpoint != saving
        restored = Aws(server.endpoint, patched=True)
        definition = restored.client("ecs").describe_task_definition(taskDefinition="worker")["taskDefinition"]
        values = {item["name"]: item["value"] for item in definition["containerDefinitions"][0]["environment"]}
        new_port = server.endpoint.rsplit(":", 1)[1]
        assert values == {"QUEUE_URL": url.replace(saving, server.endpoint),
                          "ALSO": f"http://localhost:{new_port}/x", "OTHER_PORT": "127.0.0.1:1"}
        sqs = restored.client("sqs")
        sqs.send_message(QueueUrl=values["QUEUE_URL"], MessageBody="after the restore")
        assert sqs.receive_message(QueueUrl=values["QUEUE_URL"])["Messages"][0]["Body"] == "after the restore"
