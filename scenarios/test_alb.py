"""The ALB data plane behaves as the Terraform's listeners say: :80 redirects to :443, :443 serves TLS that
verifies against the harness CA (and only against it)."""

from __future__ import annotations

import ssl

import httpx
import pytest

pytestmark = pytest.mark.scenario


def test_http_listener_redirects_permanently_to_https(stack, aws) -> None:
    http = stack.listener(80)
    [action] = [a for a in aws.client("elbv2").describe_listeners(ListenerArns=[http["arn"]])["Listeners"][0][
        "DefaultActions"] if a["Type"] == "redirect"]
    response = httpx.get(http["local_url"] + "/v1/inboxes/x/messages?page=2", follow_redirects=False)
    assert response.status_code == 301 == int(action["RedirectConfig"]["StatusCode"].removeprefix("HTTP_"))
    location = httpx.URL(response.headers["location"])
    assert location.scheme == "https" and location.port in (None, int(action["RedirectConfig"]["Port"]))
    assert location.path == "/v1/inboxes/x/messages" and location.query == b"page=2"


def test_https_verifies_against_the_harness_ca_only(stack) -> None:
    https = stack.listener(443)
    trusted = ssl.create_default_context(cafile=stack.ca_bundle)
    assert httpx.get(https["local_url"] + "/health", verify=trusted).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(https["local_url"] + "/health", verify=ssl.create_default_context())


def test_target_health_in_the_emulator_is_the_data_planes(stack, aws) -> None:
    elbv2 = aws.client("elbv2")
    stack.refresh()
    for group in stack.runtime["alb"]["target_groups"]:
        seen = {(t["id"], int(t["port"])): t["state"] for t in group["targets"]}
        described = elbv2.describe_target_health(TargetGroupArn=group["arn"])["TargetHealthDescriptions"]
        reported = {(d["Target"]["Id"], int(d["Target"]["Port"])): d["TargetHealth"]["State"] for d in described}
        assert reported == seen
