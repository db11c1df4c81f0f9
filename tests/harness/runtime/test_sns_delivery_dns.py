"""Patch sns-http-delivery resolves endpoints through the local cloud's DNS truth.

A real patched moto server (`MotoServerProcess`) and real local HTTPS endpoints: the endpoint URL names
`api.mailstack.test`, which only the DNS truth resolves (to 127.0.0.1:<port>); the POST must arrive
with the original Host header and SNI, over TLS verified against the harness CA like AWS verifies it.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from harness.aws.route53.resolver import write_dns_truth
from harness.core.rundir import CA_BUNDLE_ENV, DNS_TRUTH_ENV
from harness.emulator.moto_process import MotoServerProcess
from tests.harness.runtime.tls_endpoint import TlsEndpoint, ca_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST = "api.mailstack.test"
WEBHOOK = f"https://{HOST}/v1/webhooks/aws/sns"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sns-dns")
    return {"run": root, "ca": root / "alb" / "tls", "other_ca": root / "other-ca",
            "dns": root / "truth" / "dns.json"}


@pytest.fixture(scope="module")
def moto(dirs: dict[str, Path]) -> Iterator[MotoServerProcess]:
    env = {**os.environ, "HARNESS_TIME_SCALE": "100", DNS_TRUTH_ENV: str(dirs["dns"]),
           CA_BUNDLE_ENV: str(dirs["ca"] / "ca.pem")}
    env.pop("HARNESS_SNS_PUBLIC_URL", None)
    with MotoServerProcess(dirs["run"], patches=["sns-http-delivery"], env=env, inherit_env=False) as server:
        yield server


def sns_client(server: MotoServerProcess) -> Any:
    return boto3.client("sns", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


def deliveries(server: MotoServerProcess, topic_arn_suffix: str = "") -> list[dict[str, Any]]:
    with urllib.request.urlopen(server.endpoint + "/_harness/sns", timeout=5) as response:
        return list(json.loads(response.read())["deliveries"])


def wait_outcome(server: MotoServerProcess, arn_part: str, outcome: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in deliveries(server) if arn_part in (d["subscription_arn"] or "") and d["outcome"] == outcome]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {outcome} delivery for {arn_part}: {deliveries(server)[-5:]}"
        time.sleep(0.05)


def topic(sns: Any) -> str:
    return str(sns.create_topic(Name=f"inbound-{uuid.uuid4().hex[:10]}")["TopicArn"])


def test_https_endpoint_routed_with_host_sni_and_verified_tls(moto: MotoServerProcess, dirs: dict[str, Path]):
    endpoint = TlsEndpoint(ca_in(dirs["ca"]), (HOST,)).start()
    try:
        write_dns_truth(dirs["dns"], {HOST: {443: f"127.0.0.1:{endpoint.port}"}})
        sns = sns_client(moto)
        topic_arn = topic(sns)
        arn = sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=WEBHOOK,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]

        [confirmation] = endpoint.wait_for("SubscriptionConfirmation")
        assert confirmation.path == "/v1/webhooks/aws/sns"
        assert confirmation.headers["host"] == HOST
        assert confirmation.server_name == HOST  # SNI: the certificate was checked for the real name
        assert endpoint.confirmations == [200]
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attributes["PendingConfirmation"] == "false"
        assert wait_outcome(moto, arn, "delivered")["via"] == f"127.0.0.1:{endpoint.port}"

        sns.publish(TopicArn=topic_arn, Message="hello", Subject="s")
        [notification] = endpoint.wait_for("Notification")
        assert notification.body["Message"] == "hello"
        assert notification.headers["host"] == HOST
    finally:
        endpoint.stop()


def test_certificate_from_another_ca_is_refused(moto: MotoServerProcess, dirs: dict[str, Path]):
    endpoint = TlsEndpoint(ca_in(dirs["other_ca"]), (HOST,)).start()
    try:
        write_dns_truth(dirs["dns"], {HOST: {443: f"127.0.0.1:{endpoint.port}"}})
        sns = sns_client(moto)
        arn = sns.subscribe(TopicArn=topic(sns), Protocol="https", Endpoint=WEBHOOK,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        failed = wait_outcome(moto, arn, "failed")
        assert "CERTIFICATE_VERIFY_FAILED" in failed["detail"]
        assert endpoint.received == []
        assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
    finally:
        endpoint.stop()


def test_certificate_without_the_hostname_is_refused_like_aws(moto: MotoServerProcess, dirs: dict[str, Path]):
    """The ALB's certificates carry the Terraform hostnames; one with only 127.0.0.1 would fail on AWS too."""
    endpoint = TlsEndpoint(ca_in(dirs["ca"]), ("somewhere-else.test",)).start()
    try:
        write_dns_truth(dirs["dns"], {HOST: {443: f"127.0.0.1:{endpoint.port}"}})
        sns = sns_client(moto)
        arn = sns.subscribe(TopicArn=topic(sns), Protocol="https", Endpoint=WEBHOOK,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        failed = wait_outcome(moto, arn, "failed")
        assert "CERTIFICATE_VERIFY_FAILED" in failed["detail"] and "match" in failed["detail"]
        assert endpoint.received == []
    finally:
        endpoint.stop()


def test_host_not_in_the_truth_uses_plain_dns(moto: MotoServerProcess, dirs: dict[str, Path]):
    write_dns_truth(dirs["dns"], {"other.mailstack.test": {443: "127.0.0.1:1"}})
    sns = sns_client(moto)
    arn = sns.subscribe(TopicArn=topic(sns), Protocol="https", Endpoint=WEBHOOK,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    failed = wait_outcome(moto, arn, "failed")
    assert failed["via"] is None
    assert "ConnectError" in failed["detail"]  # api.mailstack.test does not resolve on the real DNS


def test_local_endpoint_outside_the_truth_trusts_the_harness_ca(moto: MotoServerProcess, dirs: dict[str, Path]):
    """A pager endpoint on 127.0.0.1 with a harness-CA certificate: plain DNS, TLS verified against the CA."""
    write_dns_truth(dirs["dns"], {})
    endpoint = TlsEndpoint(ca_in(dirs["ca"]), ("localhost",)).start()
    stranger = TlsEndpoint(ca_in(dirs["other_ca"]), ("localhost",)).start()
    try:
        sns = sns_client(moto)
        topic_arn = topic(sns)
        arn = sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=f"https://127.0.0.1:{endpoint.port}/alerts",
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        [confirmation] = endpoint.wait_for("SubscriptionConfirmation")
        assert confirmation.path == "/alerts"
        assert wait_outcome(moto, arn, "delivered")["via"] is None  # not routed: the certificate was verified

        refused = sns.subscribe(TopicArn=topic_arn, Protocol="https", ReturnSubscriptionArn=True,
                                Endpoint=f"https://127.0.0.1:{stranger.port}/alerts")["SubscriptionArn"]
        assert "CERTIFICATE_VERIFY_FAILED" in wait_outcome(moto, refused, "failed")["detail"]
        assert stranger.received == []
    finally:
        endpoint.stop()
        stranger.stop()
