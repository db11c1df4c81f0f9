"""sns_trust: the task env that makes the API trust the emulator's SNS signer and SubscribeURL."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from harness.aws.route53.resolver import write_dns_truth
from harness.aws.sns.trust import sns_trust_overrides, trust_overrides
from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.core.rundir import CA_BUNDLE_ENV, DNS_TRUTH_ENV
from harness.emulator.moto_process import MotoServerProcess
from tests.harness.runtime.tls_endpoint import TlsEndpoint, ca_in

CERT_URL = "http://127.0.0.1:4566/_harness/sns/SimpleNotificationService.pem"


def test_patterns_from_the_info_document():
    overrides = trust_overrides({"signing_cert_url": CERT_URL,
                                 "trusted_cert_url_pattern": "^" + re.escape(CERT_URL) + "$"})
    cert, subscribe = (re.compile(overrides[k]) for k in
                       ("SNS_TRUSTED_CERT_URL_PATTERN", "SNS_TRUSTED_SUBSCRIBE_URL_PATTERN"))
    assert cert.match(CERT_URL)
    assert not cert.match(CERT_URL + "x") and not cert.match("http://127.0.0.1:45660/_harness/sns/x.pem")
    assert not cert.match("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem")
    good = "http://127.0.0.1:4566/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=ab12"
    assert subscribe.match(good)
    assert not subscribe.match(good.replace("4566", "4567"))
    assert not subscribe.match("http://127.0.0.1:4566/?Action=Unsubscribe&SubscriptionArn=x")
    assert not subscribe.match("http://127.0.0.1:4566.evil.test/?Action=ConfirmSubscription&Token=1")


def test_missing_pattern_is_derived_and_garbage_refused():
    assert trust_overrides({"signing_cert_url": CERT_URL})["SNS_TRUSTED_CERT_URL_PATTERN"] == (
        "^" + re.escape(CERT_URL) + "$")
    with pytest.raises(ValueError, match="signing_cert_url"):
        trust_overrides({"signing_cert_url": "http://x/cert.pem"})


def test_emulator_without_the_patch_gives_no_overrides_and_a_dead_one_raises():
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert sns_trust_overrides(f"http://127.0.0.1:{server.server_address[1]}") == {}
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(HarnessError, match="SNS signer"):
        sns_trust_overrides(f"http://127.0.0.1:{free_port()}", timeout=2)


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServerProcess]:
    env = {**os.environ, DNS_TRUTH_ENV: str(tmp_path / "dns.json"),
           CA_BUNDLE_ENV: str(tmp_path / "ca" / "ca.pem")}
    env.pop("HARNESS_SNS_PUBLIC_URL", None)
    with MotoServerProcess(tmp_path, patches=["sns-http-delivery"], env=env, inherit_env=False) as server:
        yield server


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_apis_own_checks_accept_what_the_patched_emulator_sends(moto: MotoServerProcess, tmp_path: Path):
    from mailstack.config import load_api_settings
    from mailstack.sns.signature import SnsSignatureVerifier

    overrides = sns_trust_overrides(moto.endpoint)
    endpoint = TlsEndpoint(ca_in(tmp_path / "ca"), ("api.mailstack.test",), confirm=False).start()
    try:
        write_dns_truth(tmp_path / "dns.json", {"api.mailstack.test": {443: f"127.0.0.1:{endpoint.port}"}})
        sns = boto3.client("sns", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
        topic_arn = sns.create_topic(Name=f"inbound-{uuid.uuid4().hex[:8]}")["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint="https://api.mailstack.test/hook")
        message = endpoint.wait_for("SubscriptionConfirmation")[0].body
    finally:
        endpoint.stop()

    task_env = {"AWS_REGION": "us-east-1", "MAILSTACK_ENV": "dev", "DB_HOST": "127.0.0.1", "DB_PORT": "5432",
                "DB_NAME": "mailstack", "DB_USER": "u", "DB_PASSWORD": "p", "RAW_MAIL_BUCKET": "raw",
                "ATTACHMENTS_BUCKET": "att", "API_TOKEN": "t" * 32, "PORT": "8080"}
    settings = load_api_settings({**task_env, **overrides})
    SnsSignatureVerifier(settings.sns_trusted_cert_url_pattern).verify(message)  # raises if not trusted/valid
    assert settings.sns_trusted_subscribe_url_pattern.match(message["SubscribeURL"])
    default = load_api_settings(task_env)
    assert not default.sns_trusted_subscribe_url_pattern.match(message["SubscribeURL"])  # AWS-only trust
