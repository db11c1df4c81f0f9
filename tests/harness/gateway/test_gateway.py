"""The gateway on real sockets in front of a real moto server, seen through boto3: calls pass through
exactly, each is classified and logged, and each fault looks to the SDK the way AWS's would (error codes,
statuses and boto3's retries)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from harness.emulator.moto_process import MotoServerProcess
from harness.gateway.process import GatewayProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KEY = "AKIDGATEWAYTEST"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
def moto(run_dir: Path) -> Iterator[MotoServerProcess]:
    with MotoServerProcess(run_dir, die_with_parent=True) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(run_dir: Path, moto: MotoServerProcess) -> Iterator[GatewayProcess]:
    with GatewayProcess(run_dir, moto.endpoint, die_with_parent=True, seed=11) as gw:
        yield gw


@pytest.fixture
def gw(gateway: GatewayProcess) -> Iterator[GatewayProcess]:
    gateway.clear_faults(seed=11)
    yield gateway
    gateway.clear_faults(seed=11)


def client(gw: GatewayProcess, service: str, attempts: int | None = None, key: str = KEY) -> Any:
    retries: dict[str, Any] = {"mode": "standard"}
    if attempts is not None:
        retries["total_max_attempts"] = attempts
    return boto3.client(service, endpoint_url=gw.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="secret", config=Config(retries=retries, connect_timeout=5,
                                                                       read_timeout=30))


def calls_since(gw: GatewayProcess, seq: int) -> list[dict[str, Any]]:
    return gw.calls(since=seq)


def last_seq(gw: GatewayProcess) -> int:
    calls = gw.calls(limit="1")
    return calls[-1]["seq"] if calls else 0


@pytest.fixture
def queue(gw: GatewayProcess, request: pytest.FixtureRequest) -> str:
    name = "q-" + request.node.name.replace("[", "-").replace("]", "")[:60]
    url: str = client(gw, "sqs").create_queue(QueueName=name)["QueueUrl"]
    return url


# -- pass-through ----------------------------------------------------------------------------------------


def test_s3_binary_bodies_pass_through_byte_for_byte(gw: GatewayProcess):
    s3 = client(gw, "s3")
    s3.create_bucket(Bucket="gw-bytes")
    bodies = {"empty": b"", "all-bytes": bytes(range(256)) * 64, "big": os.urandom(3 * 1024 * 1024 + 17),
              "crlf": b"\r\n\x00\xff" * 1000}
    keys = {name: f"dir/{name} +%é.bin" for name in bodies}
    for name, body in bodies.items():
        s3.put_object(Bucket="gw-bytes", Key=keys[name], Body=body)
    for name, body in bodies.items():
        got = s3.get_object(Bucket="gw-bytes", Key=keys[name])
        assert got["Body"].read() == body
        assert got["ContentLength"] == len(body)
    ranged = s3.get_object(Bucket="gw-bytes", Key=keys["all-bytes"], Range="bytes=10-19")
    assert ranged["Body"].read() == bodies["all-bytes"][10:20]
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    listed = s3.list_objects_v2(Bucket="gw-bytes", Prefix="dir/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(keys.values())


def test_the_same_bytes_come_back_as_from_the_emulator_directly(gw: GatewayProcess, moto: MotoServerProcess):
    s3 = client(gw, "s3")
    s3.create_bucket(Bucket="gw-same")
    s3.put_object(Bucket="gw-same", Key="k", Body=b"x" * 1000)
    direct = httpx.get(f"{moto.endpoint}/gw-same?list-type=2")
    through = httpx.get(f"{gw.endpoint}/gw-same?list-type=2")
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content
    for name in ("content-type", "content-length", "x-amz-request-id"):
        assert (name in through.headers) == (name in direct.headers)
    assert through.headers["content-type"] == direct.headers["content-type"]


def test_sqs_send_and_receive(gw: GatewayProcess, queue: str):
    sqs = client(gw, "sqs")
    assert queue.startswith(gw.endpoint + "/")  # the Host header reached moto: its queue URLs lead back here
    bodies = ["héllo wörld", "x" * 200_000, "<xml>&amp;</xml>\n\t"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "ünïcode"}})
    got = []
    while len(got) < len(bodies):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            got.append(message["Body"])
            assert message["MessageAttributes"]["kind"]["StringValue"] == "ünïcode"
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(got) == sorted(bodies)


def test_sns_publish_reaches_a_subscribed_queue(gw: GatewayProcess, queue: str):
    sns, sqs = client(gw, "sns"), client(gw, "sqs")
    arn = sns.create_topic(Name="gw-topic")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    message_id = sns.publish(TopicArn=arn, Message="über & <published>")["MessageId"]
    assert message_id
    received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert received[0]["Body"] == "über & <published>"


# -- classification and the call log ---------------------------------------------------------------------


def test_every_protocol_is_classified_and_logged(gw: GatewayProcess, queue: str, run_dir: Path):
    seq = last_seq(gw)
    s3 = client(gw, "s3")
    s3.create_bucket(Bucket="gw-classify")
    s3.put_object(Bucket="gw-classify", Key="a/b", Body=b"1")
    s3.head_object(Bucket="gw-classify", Key="a/b")
    s3.get_object(Bucket="gw-classify", Key="a/b")
    s3.list_objects_v2(Bucket="gw-classify")
    s3.head_bucket(Bucket="gw-classify")
    s3.delete_object(Bucket="gw-classify", Key="a/b")
    client(gw, "sqs").send_message(QueueUrl=queue, MessageBody="m")
    client(gw, "sns").list_topics()
    client(gw, "cloudwatch").put_metric_data(Namespace="gw", MetricData=[{"MetricName": "m", "Value": 1.0}])
    client(gw, "cloudwatch").describe_alarms()
    client(gw, "sts", key="AKIDOTHER").get_caller_identity()
    client(gw, "iam").list_roles()
    client(gw, "ec2").describe_vpcs()
    client(gw, "elbv2").describe_load_balancers()
    client(gw, "logs").describe_log_groups()
    seen = [(c["service"], c["operation"]) for c in calls_since(gw, seq)]
    assert seen == [
        ("s3", "CreateBucket"), ("s3", "PutObject"), ("s3", "HeadObject"), ("s3", "GetObject"),
        ("s3", "ListObjectsV2"), ("s3", "HeadBucket"), ("s3", "DeleteObject"),
        ("sqs", "SendMessage"), ("sns", "ListTopics"), ("monitoring", "PutMetricData"),
        ("monitoring", "DescribeAlarms"), ("sts", "GetCallerIdentity"), ("iam", "ListRoles"),
        ("ec2", "DescribeVpcs"), ("elasticloadbalancing", "DescribeLoadBalancers"), ("logs", "DescribeLogGroups"),
    ]
    logged = calls_since(gw, seq)
    assert all(c["status"] in (200, 204) and c["fault"] is None and c["latency_ms"] > 0 for c in logged)
    assert {c["access_key"] for c in logged} == {KEY, "AKIDOTHER"}
    assert all(c["source"].startswith("127.0.0.1:") for c in logged)
    on_disk = [json.loads(line) for line in gw.call_log.read_text().splitlines()]
    assert [c["seq"] for c in on_disk if c["seq"] > seq] == [c["seq"] for c in logged]


def test_an_explicit_caller_header_is_logged_and_matched(gw: GatewayProcess, queue: str):
    sqs = client(gw, "sqs", attempts=1)

    def name_caller(request: Any, **_: Any) -> None:
        request.headers["x-harness-caller"] = "worker-7"

    gw.add_fault(service="sqs", kind="internal_error", caller="worker-7", count=1)
    sqs.send_message(QueueUrl=queue, MessageBody="not worker-7")
    sqs.meta.events.register("before-sign.sqs", name_caller)
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=queue, MessageBody="worker-7")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    last = gw.calls(limit="1")[-1]
    assert (last["caller"], last["access_key"], last["fault"]) == ("worker-7", KEY, "internal_error[r1]")


# -- faults as boto3 sees them ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "kind", "code", "status"),
    [
        ("sqs", "throttling", "RequestThrottled", 400),
        ("sqs", "internal_error", "InternalError", 500),
        ("sqs", "unavailable", "ServiceUnavailable", 503),
        ("sns", "throttling", "Throttled", 429),
        ("cloudwatch", "throttling", "Throttling", 400),
        ("s3", "slowdown", "SlowDown", 503),
        ("s3", "internal_error", "InternalError", 500),
        ("s3", "unavailable", "ServiceUnavailable", 503),
    ],
)
def test_an_error_fault_is_the_code_boto3_parses(gw: GatewayProcess, queue: str, service, kind, code, status):
    gw.add_fault(service=service, kind=kind, count=1)
    calls = {
        "sqs": lambda: client(gw, "sqs", attempts=1).send_message(QueueUrl=queue, MessageBody="m"),
        "sns": lambda: client(gw, "sns", attempts=1).list_topics(),
        "cloudwatch": lambda: client(gw, "cloudwatch", attempts=1).put_metric_data(
            Namespace="gw", MetricData=[{"MetricName": "m", "Value": 1.0}]),
        "s3": lambda: client(gw, "s3", attempts=1).list_buckets(),
    }
    with pytest.raises(ClientError) as raised:
        calls[service]()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    calls[service]()  # the count was 1: the next call goes through
    last_two = gw.calls(limit="2")
    assert [c["status"] for c in last_two] == [status, 200]
    assert last_two[0]["fault"] == f"{kind}[r1]"
    assert last_two[0]["backend"] is None


@pytest.mark.parametrize(("service", "kind"), [("sqs", "throttling"), ("s3", "slowdown"), ("sns", "throttling"),
                                               ("sqs", "internal_error"), ("s3", "unavailable")])
def test_standard_retries_ride_out_two_faults_and_one_attempt_does_not(gw: GatewayProcess, queue: str, service,
                                                                        kind):
    def call(attempts: int) -> Any:
        if service == "sqs":
            return client(gw, "sqs", attempts=attempts).send_message(QueueUrl=queue, MessageBody="m")
        if service == "sns":
            return client(gw, "sns", attempts=attempts).list_topics()
        return client(gw, "s3", attempts=attempts).list_buckets()

    gw.add_fault(service=service, kind=kind, count=2)
    seq = last_seq(gw)
    answer = call(3)  # standard mode: 3 attempts
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert [c["fault"] is not None for c in calls_since(gw, seq)] == [True, True, False]
    gw.add_fault(service=service, kind=kind, count=2)
    with pytest.raises(ClientError):
        call(1)
    assert len(calls_since(gw, seq)) == 4


@pytest.mark.parametrize("size", [10, 2 * 1024 * 1024])
def test_an_upload_refused_by_a_fault_is_retried_whole(gw: GatewayProcess, size: int):
    s3 = client(gw, "s3")
    s3.create_bucket(Bucket="gw-refused")
    body = os.urandom(size)
    gw.add_fault(service="s3", kind="slowdown", operation="PutObject", count=2)
    answer = s3.put_object(Bucket="gw-refused", Key=f"k{size}", Body=body)  # answered before its body was read
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert s3.get_object(Bucket="gw-refused", Key=f"k{size}")["Body"].read() == body
    gw.add_fault(service="s3", kind="internal_error", operation="PutObject", count=1)
    auth = {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDRAW/20260101/us-east-1/s3/aws4_request, "
                             "SignedHeaders=host, Signature=0"}
    with httpx.Client() as raw:  # one connection, no Expect: 100-continue: the body is sent whole
        refused = raw.put(f"{gw.endpoint}/gw-refused/raw", content=body, headers=auth)
        assert refused.status_code == 500
        assert refused.headers.get("connection") == ("close" if size > 1 << 20 else None)  # a small body is read
        assert raw.put(f"{gw.endpoint}/gw-refused/raw", content=body, headers=auth).status_code == 200
    assert s3.get_object(Bucket="gw-refused", Key="raw")["Body"].read() == body


def test_latency_adds_at_least_the_delay(gw: GatewayProcess, queue: str):
    sqs = client(gw, "sqs")
    sqs.send_message(QueueUrl=queue, MessageBody="warm")
    started = time.monotonic()
    sqs.send_message(QueueUrl=queue, MessageBody="fast")
    fast = time.monotonic() - started
    gw.add_fault(service="sqs", kind="latency", operation="SendMessage", delay_ms=400, jitter_ms=100, count=1)
    started = time.monotonic()
    sqs.send_message(QueueUrl=queue, MessageBody="slow")
    slow = time.monotonic() - started
    assert slow >= 0.4
    assert slow - fast >= 0.35
    last = gw.calls(limit="1")[-1]
    assert last["status"] == 200 and last["latency_ms"] >= 400
    assert last["fault"].startswith("latency+") and last["fault"].endswith("ms[r1]")


def test_blackout_resets_the_connection(gw: GatewayProcess, queue: str):
    gw.add_fault(service="sqs", kind="blackout", count=1)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client(gw, "sqs", attempts=1).send_message(QueueUrl=queue, MessageBody="m")
    assert client(gw, "sqs", attempts=1).send_message(QueueUrl=queue, MessageBody="m")["MessageId"]
    gw.add_fault(service="s3", kind="blackout", count=1)
    answer = client(gw, "s3").list_buckets()  # standard retries reconnect
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    blackouts = [c for c in gw.calls() if c["fault"] and c["fault"].startswith("blackout")][-2:]
    assert [(c["service"], c["status"]) for c in blackouts] == [("sqs", None), ("s3", None)]
    gw.add_fault(service="unknown", kind="blackout", count=1)
    with pytest.raises(httpx.ReadError, match="reset"):  # a raw client sees the reset, not an HTTP answer
        httpx.get(gw.endpoint + "/whatever")


def test_a_seeded_probability_gives_the_same_faults_for_the_same_seed(gw: GatewayProcess, queue: str):
    def run(seed: int) -> list[bool]:
        gw.clear_faults(seed=seed)
        gw.add_fault(service="sqs", kind="throttling", operation="SendMessage", probability=0.4)
        sqs = client(gw, "sqs", attempts=1)
        outcome = []
        for n in range(30):
            try:
                sqs.send_message(QueueUrl=queue, MessageBody=str(n))
                outcome.append(False)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "RequestThrottled"
                outcome.append(True)
        return outcome

    first = run(42)
    assert 3 <= sum(first) <= 27
    assert run(42) == first
    assert run(43) != first


def test_the_control_api_lists_and_removes_rules(gw: GatewayProcess):
    rule = gw.add_fault(service="s3", kind="slowdown", probability=0.5, operation="PutObject")
    assert rule["id"] == "r1" and rule["service"] == "s3"
    listed = gw.control("GET", "/faults")
    assert listed["seed"] == 11 and [r["id"] for r in listed["rules"]] == ["r1"]
    assert gw.control("DELETE", "/faults/r1") == {"removed": True}
    assert gw.control("GET", "/faults")["rules"] == []
    refused = httpx.post(gw.endpoint + "/_gateway/faults", json={"service": "s3", "kind": "nope", "count": 1})
    assert refused.status_code == 400 and "unknown fault kind" in refused.json()["error"]


def test_routes_send_one_service_to_another_backend(run_dir: Path, moto: MotoServerProcess):
    with MotoServerProcess(run_dir, die_with_parent=True) as other, \
            GatewayProcess(run_dir, moto.endpoint, routes={"sqs": other.endpoint}, die_with_parent=True) as gw:
        client(gw, "sqs").create_queue(QueueName="routed-only")
        client(gw, "s3").create_bucket(Bucket="gw-routed-default")
        direct = {"aws_access_key_id": KEY, "aws_secret_access_key": "s", "region_name": "us-east-1"}
        in_other = boto3.client("sqs", endpoint_url=other.endpoint, **direct).list_queues().get("QueueUrls", [])
        in_default = boto3.client("sqs", endpoint_url=moto.endpoint, **direct).list_queues().get("QueueUrls", [])
        assert any(u.endswith("/routed-only") for u in in_other)
        assert not any(u.endswith("/routed-only") for u in in_default)
        buckets = boto3.client("s3", endpoint_url=moto.endpoint, **direct).list_buckets()["Buckets"]
        assert "gw-routed-default" in [b["Name"] for b in buckets]
        assert [c["backend"] for c in gw.calls()] == [other.endpoint, moto.endpoint]


def test_the_gateway_carries_the_run_marker_and_stops_clean(run_dir: Path, moto: MotoServerProcess):
    from harness.core.reaper import processes_of

    gw = GatewayProcess(run_dir / "marked", moto.endpoint, die_with_parent=True)
    (run_dir / "marked").mkdir(exist_ok=True)
    gw.start()
    try:
        assert gw.process.pid in [p.pid for p in processes_of(run_dir / "marked")]
        assert httpx.get(gw.endpoint + "/_gateway/ready").json()["ready"] is True
    finally:
        gw.stop()
    assert processes_of(run_dir / "marked") == []
    assert not gw.process.alive()


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received: method, raw target, headers in order, body digest."""

    protocol_version = "HTTP/1.1"

    def do_any(self) -> None:
        if self.headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
        answer = json.dumps({"method": self.command, "target": self.path, "headers": list(self.headers.items()),
                             "sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}).encode()
        self.send_response(207)
        self.send_header("content-length", str(len(answer)))
        self.send_header("X-Odd-Header", "Kept As Is")
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def echo_gateway(run_dir: Path, echo: str) -> Iterator[GatewayProcess]:
    with GatewayProcess(run_dir, echo, die_with_parent=True) as gw:
        yield gw


def test_requests_reach_the_backend_unchanged(echo_gateway: GatewayProcess):
    target = "/a%2Fb/c%20d/%C3%A9?x=1&x=2&empty=&plus=a+b&enc=%2F%3D"
    headers = [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDECHO/20260101/us-east-1/s3/aws4_request, "
                                  "SignedHeaders=host, Signature=0"), ("X-Amz-Date", "20260101T000000Z"),
               ("x-custom", "one"), ("x-custom", "two"), ("Content-Type", "application/octet-stream")]
    body = os.urandom(100_000)
    with httpx.Client(headers={}) as raw:
        raw.headers.clear()
        answer = raw.post(echo_gateway.endpoint + target, headers=headers, content=body)
    assert answer.status_code == 207
    assert answer.headers["x-odd-header"] == "Kept As Is"
    seen = answer.json()
    assert (seen["method"], seen["target"]) == ("POST", target)
    assert (seen["length"], seen["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    names = [k.lower() for k, _ in seen["headers"]]
    assert dict((k.lower(), v) for k, v in seen["headers"])["host"] == echo_gateway.endpoint.removeprefix("http://")
    assert [v for k, v in seen["headers"] if k.lower() == "x-custom"] == ["one", "two"]
    assert "accept-encoding" not in names and "user-agent" not in names  # nothing added on the way
    assert sorted(names) == sorted(["host", "authorization", "x-amz-date", "x-custom", "x-custom", "content-type",
                                    "content-length"])


def test_a_chunked_request_body_is_forwarded_whole(echo_gateway: GatewayProcess):
    parts = [os.urandom(n) for n in (1, 70_000, 3, 200_000)]

    def body() -> Iterator[bytes]:
        yield from parts

    answer = httpx.put(f"{echo_gateway.endpoint}/streamed", content=body())  # no length: chunked
    assert answer.request.headers["transfer-encoding"] == "chunked"
    seen = answer.json()
    assert seen["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert ("transfer-encoding", "chunked") in [(k.lower(), v) for k, v in seen["headers"]]


def test_concurrent_callers_are_all_answered_and_logged(gw: GatewayProcess, queue: str):
    from concurrent.futures import ThreadPoolExecutor

    seq = last_seq(gw)
    gw.add_fault(service="sqs", kind="throttling", operation="SendMessage", count=5)

    def send(worker: int) -> int:
        sqs = client(gw, "sqs", key=f"AKIDWORKER{worker}")  # standard retries ride out the 5 throttles
        for n in range(25):
            sqs.send_message(QueueUrl=queue, MessageBody=f"{worker}-{n}")
        return worker

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(send, range(8))) == list(range(8))
    logged = calls_since(gw, seq)
    assert len(logged) == 200 + 5
    assert sum(1 for c in logged if c["fault"]) == 5
    assert {c["access_key"] for c in logged} == {f"AKIDWORKER{w}" for w in range(8)}
    assert len({c["seq"] for c in logged}) == len(logged)
    attributes = client(gw, "sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "200"
