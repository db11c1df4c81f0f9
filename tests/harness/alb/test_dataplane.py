"""The ALB data plane end to end: a real moto server, real backends, real HTTP(S) clients.

The test creates with boto3 what Terraform would declare; the data plane reads it back and serves it.
Health check settings are AWS-sized (10 s interval, 5 s timeout); `time_scale` runs them 50x faster.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import time

import httpx
import pytest
from cryptography import x509

from harness.aws.elbv2.dataplane import AlbDataPlane
from harness.aws.elbv2.health import Reason, State
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.core.rundir import RuntimeInfo
from harness.core.truth import AlbTruth
from tests.harness.alb.backends import Backend
from tests.harness.alb.conftest import CERT_DOMAIN, CERT_SAN, REGION, AlbEnv
from tests.raw_http import RawResponse, exchange, request_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def backends_hit(client: httpx.Client, n: int, path: str = "/whoami") -> list[str]:
    hits = []
    for _ in range(n):
        response = client.get(path)
        assert response.status_code == 200, response.text
        hits.append(response.json()["backend"])
    return hits


# --------------------------------------------------------------------------- listeners and rules


def test_http_listener_redirects_to_https_on_the_terraform_port(env: AlbEnv, plane: AlbDataPlane) -> None:
    response = env.http().get("/inbox/list?page=2")
    assert response.status_code == 301
    assert response.headers["location"] == f"https://{env.dns_name}:443/inbox/list?page=2"
    followed = env.https().get(plane.local_url(response.headers["location"]))
    assert followed.status_code == 200
    assert followed.json()["path"] == "/inbox/list?page=2"


def test_https_certificate_is_issued_by_the_harness_ca_for_the_alb_names(env: AlbEnv, plane: AlbDataPlane) -> None:
    port = plane.local_port(443)
    context = ssl.create_default_context(cafile=plane.ca_bundle_path)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname=env.dns_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {env.dns_name, CERT_DOMAIN, CERT_SAN, "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    # without the harness CA the certificate is not trusted
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://127.0.0.1:{port}/", trust_env=False)


def test_rules_are_evaluated_by_priority_then_the_default_action(env: AlbEnv, plane: AlbDataPlane) -> None:
    client = env.https()
    static = client.get("/static/logo.png")
    assert (static.status_code, static.text, static.headers["content-type"]) == (404, "no static here", "text/plain")
    admin = client.get("/anything", headers={"Host": "admin.mailstack.test"})
    assert (admin.status_code, admin.text) == (200, "admin")
    both = client.get("/static/x", headers={"Host": "ADMIN.mailstack.test:443"})  # priority 10 beats 20
    assert both.text == "no static here"
    default = client.get("/v1/messages")
    assert default.status_code == 200
    assert default.json()["backend"] in {"a", "b"}


def raw_https(env: AlbEnv, plane: AlbDataPlane, request: bytes) -> RawResponse:
    tls = ssl.create_default_context(cafile=plane.ca_bundle_path)
    response = exchange("127.0.0.1", plane.local_port(443), request, tls=tls, server_hostname=env.dns_name)
    assert response is not None
    return response


# Found by tests/harness/alb/test_dataplane_fuzz.py: each of these was a 500 from the load balancer.


@pytest.mark.parametrize(
    ("method", "target", "host"),
    [
        ("OPTIONS", b"*", "api.mailstack.test"),
        ("GET", b"example.com:443", "api.mailstack.test"),
        ("GET", b"..%F0%A2%9D%9E", "api.mailstack.test"),
        ("CONNECT", b"example.com:443", "api.mailstack.test"),
        ("CONNECT", b"example.com:443", "admin.mailstack.test"),  # a fixed 200 to CONNECT switched protocols
    ],
)
def test_request_targets_that_cannot_be_forwarded_are_400(env: AlbEnv, plane: AlbDataPlane, method, target, host):
    response = raw_https(
        env, plane, request_bytes(method, target, [(b"Host", host.encode()), (b"Connection", b"close")])
    )
    assert response.status == 400
    assert response.header(b"server") == b"awselb/2.0"


def test_absolute_form_request_target_is_forwarded_as_its_path(env: AlbEnv, plane: AlbDataPlane) -> None:
    request = request_bytes(
        "GET", b"http://api.mailstack.test/whoami?x=1", [(b"Host", env.dns_name.encode()), (b"Connection", b"close")]
    )
    assert raw_https(env, plane, request).status == 200
    assert any(r["path"] == "/whoami?x=1" for b in env.backends.values() for r in b.requests)


def test_chunked_request_with_a_stale_content_length_is_forwarded_by_its_chunks(env: AlbEnv, plane: AlbDataPlane):
    """Transfer-Encoding overrides Content-Length, and a proxy must drop the Content-Length before forwarding
    (RFC 9112 6.3); forwarding both made the target wait for bytes that never came (a 504)."""
    headers = [(b"Host", env.dns_name.encode()), (b"Content-Length", b"10"), (b"Transfer-Encoding", b"chunked")]
    response = raw_https(env, plane, request_bytes("POST", b"/upload", headers, b"3\r\nabc\r\n0\r\n\r\n"))
    assert response.status == 200
    assert [r["length"] for b in env.backends.values() for r in b.requests if r["path"] == "/upload"] == [3]


@pytest.mark.parametrize(
    "framing",
    [[(b"Content-Length", b"3"), (b"Content-Length", b"4")], [(b"Content-Length", b"3, 4")]],
)
def test_conflicting_content_lengths_are_400(env: AlbEnv, plane: AlbDataPlane, framing):
    headers = [(b"Host", env.dns_name.encode()), (b"Connection", b"close"), *framing]
    assert raw_https(env, plane, request_bytes("POST", b"/upload", headers, b"abcd")).status == 400


def test_client_leaving_mid_body_is_not_an_unhandled_error(env: AlbEnv, plane: AlbDataPlane, caplog) -> None:
    caplog.set_level(logging.INFO)
    tls = ssl.create_default_context(cafile=plane.ca_bundle_path)
    with (
        socket.create_connection(("127.0.0.1", plane.local_port(443))) as raw,
        tls.wrap_socket(raw, server_hostname=env.dns_name) as client,
    ):
        headers = [(b"Host", env.dns_name.encode()), (b"Content-Length", b"100")]
        client.sendall(request_bytes("POST", b"/upload", headers))
        client.sendall(b"only ten b")
    env.wait_for(lambda: "client went away" in caplog.text, what="the load balancer to notice the client left")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_round_robin_across_two_healthy_targets(env: AlbEnv, plane: AlbDataPlane) -> None:
    hits = backends_hit(env.https(), 6)
    assert hits in (["a", "b"] * 3, ["b", "a"] * 3)


def test_target_sees_forwarded_headers_and_a_trace_id(env: AlbEnv, plane: AlbDataPlane) -> None:
    response = env.https().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Port": "1"})
    headers = response.json()["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == "443"
    assert headers["host"] == env.dns_name
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", headers["x-amzn-trace-id"])
    kept = env.https().get("/whoami", headers={"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"})
    assert kept.json()["headers"]["x-amzn-trace-id"].endswith(";Root=1-5759e988-bd862e3fe1be46a994272793")


def test_bodies_stream_both_ways(env: AlbEnv, plane: AlbDataPlane) -> None:
    chunk = b"x" * 65536

    def upload():
        for _ in range(32):
            yield chunk

    posted = env.https().post("/upload", content=upload())
    assert posted.json()["length"] == 32 * 65536
    started = time.monotonic()
    with env.https().stream("GET", "/stream") as response:
        pieces = response.iter_raw()
        first = next(pieces)
        first_at = time.monotonic() - started
        rest = b"".join(pieces)
    assert first == b"first;" and rest == b"second"
    assert first_at < 0.4  # the backend waits 0.5 s before its second chunk: the first was not buffered


# --------------------------------------------------------------------------- health checks


def test_failing_target_leaves_rotation_after_the_threshold_without_failed_requests(
    env: AlbEnv, plane: AlbDataPlane
) -> None:
    client = env.https()
    env.backends["b"].health_status = 500
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while env.states()["127.0.0.3"] != "unhealthy":
        assert time.monotonic() < deadline, plane.snapshot()
        seen.append(env.states()["127.0.0.3"])
        backends_hit(client, 1)  # every request succeeds while b is being found out
    assert set(seen) <= {"healthy"}
    b = next(t for t in plane.health()[env.api_tg] if t.id == "127.0.0.3")
    assert (b.reason, b.description) == (Reason.RESPONSE_CODE_MISMATCH, "Health checks failed with these codes: [500]")
    assert backends_hit(client, 6) == ["a"] * 6

    env.backends["b"].health_status = 200  # recovery after the healthy threshold
    env.wait_for(lambda: env.states()["127.0.0.3"] == "healthy", what="b healthy again")
    assert sorted(backends_hit(client, 4)) == ["a", "a", "b", "b"]


def test_health_check_timeout_is_reported_as_target_timeout(env: AlbEnv, plane: AlbDataPlane) -> None:
    env.backends["a"].health_delay = 0.5  # the 8 s timeout is 0.16 s at this time scale
    env.wait_for(lambda: env.states()["127.0.0.2"] == "unhealthy", what="a unhealthy")
    a = next(t for t in plane.health()[env.api_tg] if t.id == "127.0.0.2")
    assert (a.reason, a.description) == (Reason.TIMEOUT, "Request timed out")


def test_every_target_unhealthy_fails_open(env: AlbEnv, plane: AlbDataPlane) -> None:
    # AWS: "If a target group contains only unhealthy registered targets, the load balancer routes
    # requests to all those targets, regardless of their health status."
    for backend in ("a", "b"):
        env.backends[backend].health_status = 503
    env.wait_for(lambda: set(env.states().values()) == {"unhealthy"}, what="both unhealthy")
    assert sorted(backends_hit(env.https(), 4)) == ["a", "a", "b", "b"]


def test_no_routable_target_answers_503(env: AlbEnv, plane: AlbDataPlane) -> None:
    env.elbv2.deregister_targets(
        TargetGroupArn=env.api_tg,
        Targets=[{"Id": h, "Port": env.backends[n].port} for n, h in (("a", "127.0.0.2"), ("b", "127.0.0.3"))],
    )
    plane.refresh()
    assert set(env.states().values()) == {"draining"}
    response = env.https().get("/whoami")
    assert response.status_code == 503
    assert response.headers["server"] == "awselb/2.0"
    assert "503 Service Temporarily Unavailable" in response.text


def test_refused_connection_answers_502(env: AlbEnv, plane: AlbDataPlane) -> None:
    # the target's health check port answers, its traffic port refuses connections
    assert env.states(env.refusing_tg) == {"127.0.0.5": "healthy"}
    response = env.https().get("/refused/x")
    assert response.status_code == 502
    assert "502 Bad Gateway" in response.text


def test_slow_target_answers_504_after_the_idle_timeout(env: AlbEnv, plane: AlbDataPlane) -> None:
    started = time.monotonic()
    response = env.https().get("/slow?s=3")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert 0.9 <= elapsed < 2.5  # the LB's 30 s idle timeout at idle_timeout_scale 30


def test_deregistered_target_drains_then_disappears(env: AlbEnv, plane: AlbDataPlane) -> None:
    b_target = {"Id": "127.0.0.3", "Port": env.backends["b"].port}
    env.elbv2.deregister_targets(TargetGroupArn=env.api_tg, Targets=[b_target])
    plane.refresh()
    b = next(t for t in plane.health()[env.api_tg] if t.id == "127.0.0.3")
    assert (b.state, b.reason) == (State.DRAINING, Reason.DEREGISTRATION_IN_PROGRESS)
    assert backends_hit(env.https(), 4) == ["a"] * 4  # draining targets get no new requests
    env.wait_for(lambda: "127.0.0.3" not in env.states(), timeout=3, what="b gone after the 30 s (0.6 s) delay")


def test_targets_registered_by_someone_else_show_up_by_polling(env: AlbEnv, plane: AlbDataPlane) -> None:
    c = Backend("c", "127.0.0.4").start()
    try:
        env.elbv2.register_targets(TargetGroupArn=env.api_tg, Targets=[{"Id": c.host, "Port": c.port}])
        env.wait_for(lambda: env.states().get("127.0.0.4") == "healthy", timeout=5, what="c healthy")  # no refresh()
        assert set(backends_hit(env.https(), 6)) == {"a", "b", "c"}
    finally:
        env.elbv2.deregister_targets(TargetGroupArn=env.api_tg, Targets=[{"Id": c.host, "Port": c.port}])
        c.stop()


def test_a_new_target_that_fails_its_checks_goes_from_initial_to_unhealthy(env: AlbEnv) -> None:
    env.elbv2.modify_target_group(TargetGroupArn=env.api_tg, HealthCheckIntervalSeconds=30)  # 0.6 s here
    env.backends["a"].health_status = 500
    plane = env.start_plane()
    a = next(t for t in plane.health()[env.api_tg] if t.id == "127.0.0.2")
    assert a.state == State.INITIAL
    assert a.reason in (Reason.REGISTRATION_IN_PROGRESS, Reason.INITIAL_HEALTH_CHECKING)
    env.wait_for(
        lambda: env.states() == {"127.0.0.2": "unhealthy", "127.0.0.3": "healthy"}, what="a unhealthy, b healthy"
    )


# --------------------------------------------------------------------------- reporting


def test_snapshot_and_describe_are_plain_json(env: AlbEnv, plane: AlbDataPlane) -> None:
    snapshot = plane.snapshot()
    assert sorted(snapshot) == sorted([env.api_tg, env.refusing_tg])
    assert {
        "id": "127.0.0.2",
        "port": env.backends["a"].port,
        "state": "healthy",
        "reason": None,
        "description": None,
    } in snapshot[env.api_tg]
    described = json.loads(json.dumps(plane.describe()))
    assert set(plane.port_map) == {80, 443}
    assert {(item["protocol"], item["public_url"]) for item in described["listeners"]} == {
        ("HTTP", f"http://{env.dns_name}:80"),
        ("HTTPS", f"https://{env.dns_name}:443"),
    }
    assert described["ca_bundle"] == str(plane.ca_bundle_path)
    info = RuntimeInfo.of({"ready": True, "alb": described}).alb  # as runtime.json holds it
    assert info is not None and {listener.port for listener in info.listeners} == {80, 443}
    truth = AlbTruth.of(snapshot)  # as the daemon publishes it
    assert {(r.id, r.port, r.state) for r in truth.rows(env.api_tg)} == {
        (t["id"], t["port"], t["state"]) for t in snapshot[env.api_tg]}


def test_metrics_count_requests_by_origin(env: AlbEnv, plane: AlbDataPlane) -> None:
    plane.metrics_snapshot(reset=True)
    env.http().get("/")
    backends_hit(env.https(), 3)
    env.https().get("/static/x")
    env.https().get("/refused/x")
    metrics = json.loads(json.dumps(plane.metrics_snapshot()))
    (lb,) = metrics["load_balancers"]
    assert lb["dimensions"]["LoadBalancer"].startswith("app/mailstack-alb/")
    counters = lb["counters"]
    assert counters["RequestCount"] == 6
    assert counters["HTTPCode_ELB_3XX_Count"] == counters["HTTP_Redirect_Count"] == 1
    assert counters["HTTPCode_ELB_4XX_Count"] == counters["HTTP_Fixed_Response_Count"] == 1
    assert counters["HTTPCode_ELB_5XX_Count"] == counters["HTTPCode_ELB_502_Count"] == 1
    assert counters["HTTPCode_Target_2XX_Count"] == 3
    api = next(tg for tg in metrics["target_groups"] if tg["arn"] == env.api_tg)
    assert api["dimensions"]["TargetGroup"].startswith("targetgroup/api/")
    assert api["counters"]["RequestCount"] == 3
    assert api["TargetResponseTime"]["SampleCount"] == 3
    assert all(s["value"] > 0 for s in api["TargetResponseTime"]["samples"])
    assert (api["HealthyHostCount"], api["UnHealthyHostCount"]) == (2, 0)
    assert plane.metrics_snapshot(reset=True)["load_balancers"][0]["counters"]["RequestCount"] == 6
    assert plane.metrics_snapshot()["load_balancers"][0]["counters"]["RequestCount"] == 0


# --------------------------------------------------------------------------- lifecycle


def test_ca_is_reused_across_runs(env: AlbEnv, plane: AlbDataPlane) -> None:
    ca_pem = plane.ca_bundle_path.read_bytes()
    plane.stop()
    again = env.start_plane()
    assert again.ca_bundle_path.read_bytes() == ca_pem
    again.wait_healthy(env.api_tg, count=1, timeout=10)
    assert env.https().get("/whoami").status_code == 200


def test_unreachable_emulator_is_an_error_naming_the_fix(tmp_path) -> None:
    plane = AlbDataPlane(RuntimeContext.for_emulator(f"http://127.0.0.1:{free_port()}", REGION, tmp_path))
    with pytest.raises(HarnessError, match="cannot read load balancers") as raised:
        plane.start()
    assert raised.value.fix and "emulator" in raised.value.fix
