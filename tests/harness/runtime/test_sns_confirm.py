"""resubscribe_pending: the webhook Terraform subscribed before the API ran gets confirmed once it is up.

A real patched moto server and a real local HTTPS endpoint that confirms by GETting the SubscribeURL.
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

from harness.aws.route53.resolver import alb_ca_bundle, write_dns_truth
from harness.aws.sns.confirm import resubscribe_pending, wait_confirmed
from harness.core.rundir import CA_BUNDLE_ENV, DNS_TRUTH_ENV, RunDir
from harness.emulator.moto_process import MotoServerProcess
from tests.harness.runtime.tls_endpoint import TlsEndpoint, ca_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST = "api.mailstack.test"
WEBHOOK = f"https://{HOST}/v1/webhooks/aws/sns"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def moto(run_dir: Path) -> Iterator[MotoServerProcess]:
    env = {**os.environ, "HARNESS_TIME_SCALE": "100",
           DNS_TRUTH_ENV: str(RunDir(run_dir).dns_truth), CA_BUNDLE_ENV: str(alb_ca_bundle(run_dir))}
    env.pop("HARNESS_SNS_PUBLIC_URL", None)
    with MotoServerProcess(run_dir, patches=["sns-http-delivery"], env=env, inherit_env=False) as server:
        yield server


def sns_client(server: MotoServerProcess) -> Any:
    return boto3.client("sns", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


def given_up(server: MotoServerProcess, arn: str, times: int = 1, timeout: float = 20.0) -> None:
    """Wait until `times` confirmations to `arn` have exhausted their retries."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(server.endpoint + "/_harness/sns", timeout=5) as response:
            found = [d for d in json.loads(response.read())["deliveries"]
                     if d["subscription_arn"] == arn and d["outcome"] == "failed"]
        if len(found) >= times:
            return
        assert time.monotonic() < deadline, f"the confirmation to {arn} did not give up"
        time.sleep(0.05)


def listed(sns: Any, topic_arn: str) -> dict[str, str]:
    return {s["Endpoint"]: s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)[
        "Subscriptions"]}


def test_pending_webhook_confirmed_once_the_endpoint_is_up(moto: MotoServerProcess, run_dir: Path):
    sns = sns_client(moto)
    topic_arn = sns.create_topic(Name=f"inbound-{uuid.uuid4().hex[:8]}")["TopicArn"]
    other = "https://hooks.elsewhere.test/sns"
    # terraform apply: nothing listens yet, so the confirmation's retries run out (plain DNS: no such host).
    webhook_arn = sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=WEBHOOK,
                                ReturnSubscriptionArn=True)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=other)
    sqs = boto3.client("sqs", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName=f"debug-{uuid.uuid4().hex[:8]}")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    given_up(moto, webhook_arn)
    assert listed(sns, topic_arn)[WEBHOOK] == "PendingConfirmation"

    # nothing is served locally yet: nothing to do
    assert [r.outcome for r in resubscribe_pending(sns, {})] == ["skipped", "skipped"]
    # a resubscription nobody confirms is reported back after the timeout
    unconfirmed = resubscribe_pending(sns, {HOST: {443: "127.0.0.1:1"}})
    assert [r.endpoint for r in wait_confirmed(sns, unconfirmed, timeout=0.3)] == [WEBHOOK]
    given_up(moto, webhook_arn, times=2)

    # the runtime is up: the ALB serves the API, the DNS truth maps the hostname to it
    endpoint = TlsEndpoint(ca_in(RunDir(run_dir).alb_tls_dir), (HOST,)).start()
    try:
        mapping = {HOST: {443: f"127.0.0.1:{endpoint.port}"}}
        write_dns_truth(RunDir(run_dir).dns_truth, mapping)
        done = resubscribe_pending(sns, mapping)
        by_endpoint = {r.endpoint: r for r in done}
        assert set(by_endpoint) == {WEBHOOK, other}
        assert by_endpoint[WEBHOOK].outcome == "resubscribed"
        assert by_endpoint[WEBHOOK].topic_arn == topic_arn
        assert by_endpoint[other].outcome == "skipped"
        assert wait_confirmed(sns, done, timeout=5) == []

        [confirmation] = endpoint.wait_for("SubscriptionConfirmation")
        assert confirmation.headers["host"] == HOST and confirmation.body["TopicArn"] == topic_arn
        assert endpoint.confirmations == [200]
        assert listed(sns, topic_arn)[WEBHOOK] == webhook_arn
        assert listed(sns, topic_arn)[other] == "PendingConfirmation"

        sns.publish(TopicArn=topic_arn, Message="mail received")
        assert endpoint.wait_for("Notification")[0].body["Message"] == "mail received"

        # confirmed now: a second call leaves it alone
        assert [r.endpoint for r in resubscribe_pending(sns, mapping)] == [other]
    finally:
        endpoint.stop()
