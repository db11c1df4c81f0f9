"""Fixtures for the ALB data plane tests: a real moto server, real backends, a real data plane."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from harness.aws.elbv2.dataplane import AlbDataPlane
from harness.core.context import RuntimeContext
from harness.core.ports import free_port
from harness.core.probes import eventually
from tests.harness.alb.backends import Backend

REGION = "us-east-1"
TIME_SCALE = 50  # 10 s health check interval -> 0.2 s; 8 s timeout -> 0.16 s; 30 s draining -> 0.6 s
IDLE_TIMEOUT_SCALE = 30  # the LB's 30 s idle timeout -> 1 s
CERT_DOMAIN = "api.mailstack.test"
CERT_SAN = "*.mailstack.test"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class Aws:
    url: str
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self.clients[service]


@pytest.fixture(scope="session")
def _aws_session(moto_url: str) -> Aws:
    return Aws(moto_url)


@pytest.fixture
def aws(_aws_session: Aws) -> Aws:
    httpx.post(f"{_aws_session.url}/moto-api/reset", timeout=120).raise_for_status()  # every test starts empty
    return _aws_session


@dataclass
class AlbEnv:
    """What Terraform would have declared, created with boto3, plus the backends and the data plane."""

    aws: Aws
    elbv2: Any
    dns_name: str
    lb_arn: str
    api_tg: str
    refusing_tg: str
    backends: dict[str, Backend]
    state_dir: Path
    plane: AlbDataPlane | None = None
    started: list[Any] = field(default_factory=list)

    def https(self) -> httpx.Client:
        assert self.plane is not None
        client = httpx.Client(
            base_url=self.plane.url,
            verify=ssl.create_default_context(cafile=self.plane.ca_bundle_path),
            trust_env=False,
            timeout=10,
            headers={"Host": self.dns_name},
        )
        self.started.append(client)
        return client

    def http(self) -> httpx.Client:
        assert self.plane is not None
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.plane.local_port(80)}",
            trust_env=False,
            timeout=10,
            headers={"Host": self.dns_name},
        )
        self.started.append(client)
        return client

    def states(self, tg_arn: str | None = None) -> dict[str, str]:
        assert self.plane is not None
        return {t.id: t.state.value for t in self.plane.health()[tg_arn or self.api_tg]}

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        eventually(lambda: (predicate(), self.plane and self.plane.snapshot()), lambda seen: seen[0],
                   timeout=timeout, interval=0.02, what=f"{what} (observed: holds?, health)")

    def start_plane(self, **kwargs: Any) -> AlbDataPlane:
        options = {"idle_timeout_scale": IDLE_TIMEOUT_SCALE, "poll_interval": 0.5}
        options.update(kwargs)
        time_scale = options.pop("time_scale", TIME_SCALE)
        context = RuntimeContext.for_emulator(self.aws.url, REGION, self.state_dir, time_scale=time_scale)
        self.plane = AlbDataPlane(context, **options)
        self.plane.start()
        self.plane.wait_ready()
        return self.plane


def create_stack(aws: Aws, backends: dict[str, Backend], refused_port: int) -> dict[str, str]:
    """VPC, ACM certificate, ALB (:80 redirect, :443 HTTPS with rules), two target groups, targets."""
    ec2, elbv2, acm = aws.client("ec2"), aws.client("elbv2"), aws.client("acm")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    cert = acm.request_certificate(
        DomainName=CERT_DOMAIN, SubjectAlternativeNames=[CERT_DOMAIN, CERT_SAN], ValidationMethod="DNS"
    )["CertificateArn"]
    lb = elbv2.create_load_balancer(Name="mailstack-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "30"}]
    )
    health = {
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPath": "/health",
        "HealthCheckIntervalSeconds": 10,
        "HealthCheckTimeoutSeconds": 8,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 2,
        "Matcher": {"HttpCode": "200-299"},
    }
    api = elbv2.create_target_group(Name="api", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", **health)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    refusing = elbv2.create_target_group(
        Name="refusing",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        **{**health, "HealthCheckPort": str(backends["refusing-health"].port)},
    )["TargetGroups"][0]["TargetGroupArn"]
    for tg in (api, refusing):
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
        )
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Port=80,
        Protocol="HTTP",
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )
    https = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Port=443,
        Protocol="HTTPS",
        Certificates=[{"CertificateArn": cert}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
    )["Listeners"][0]["ListenerArn"]
    rules = [
        (
            5,
            [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/refused/*"]}}],
            {"Type": "forward", "TargetGroupArn": refusing},
        ),
        (
            10,
            [{"Field": "path-pattern", "Values": ["/static/*"]}],
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "404",
                    "ContentType": "text/plain",
                    "MessageBody": "no static here",
                },
            },
        ),
        (
            20,
            [{"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}}],
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "admin"},
            },
        ),
    ]
    for priority, conditions, action in rules:
        elbv2.create_rule(ListenerArn=https, Priority=priority, Conditions=conditions, Actions=[action])
    elbv2.register_targets(
        TargetGroupArn=api,
        Targets=[
            {"Id": backends["a"].host, "Port": backends["a"].port},
            {"Id": backends["b"].host, "Port": backends["b"].port},
        ],
    )
    elbv2.register_targets(TargetGroupArn=refusing, Targets=[{"Id": "127.0.0.5", "Port": refused_port}])
    return {"lb_arn": lb["LoadBalancerArn"], "dns_name": lb["DNSName"], "api": api, "refusing": refusing}


@pytest.fixture
def env(aws: Aws, tmp_path: Path) -> Iterator[AlbEnv]:
    backends = {
        "a": Backend("a", "127.0.0.2").start(),
        "b": Backend("b", "127.0.0.3").start(),
        "refusing-health": Backend("refusing-health", "127.0.0.5").start(),
    }
    refused_port = free_port("127.0.0.5")
    created = create_stack(aws, backends, refused_port)
    alb_env = AlbEnv(
        aws=aws,
        elbv2=aws.client("elbv2"),
        dns_name=created["dns_name"],
        lb_arn=created["lb_arn"],
        api_tg=created["api"],
        refusing_tg=created["refusing"],
        backends=backends,
        state_dir=tmp_path / "state",
    )
    try:
        yield alb_env
    finally:
        for client in alb_env.started:
            client.close()
        if alb_env.plane is not None:
            alb_env.plane.stop()
        for backend in backends.values():
            backend.stop()


@pytest.fixture
def plane(env: AlbEnv) -> AlbDataPlane:
    """The data plane started on `env`, with every target healthy."""
    started = env.start_plane()
    started.wait_healthy(env.api_tg, count=2, timeout=10)
    started.wait_healthy(env.refusing_tg, count=1, timeout=10)
    return started
