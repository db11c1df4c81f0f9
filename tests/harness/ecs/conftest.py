"""Fixtures for the ECS runner tests: a real moto server and what Terraform would have declared."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from harness.aws.ecs.options import EcsOptions
from harness.aws.ecs.runner import EcsRunner
from harness.core.ca import LocalCA
from harness.core.clients import AwsClients
from harness.core.clock import Clock
from harness.core.context import RuntimeContext
from harness.core.ports import free_port
from harness.core.probes import eventually
from harness.core.reaper import processes_of, reap

REGION = "us-east-1"
ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ECHO_DIR = Path(__file__).parent / "data" / "echo"
IMAGE = f"{ECR}/echo-service:0.1.0"
TIME_SCALE = 20  # 10 s backoff -> 0.5 s; 30 s stopTimeout -> 1.5 s


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


@pytest.fixture(scope="session")
def aws_clients(moto_url: str) -> AwsClients:
    """One set of boto3 clients for the session (building a session's service models costs ~1 s)."""
    return AwsClients(moto_url, REGION)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    return eventually(predicate, timeout=timeout, interval=0.05, what=what)


@dataclass
class EcsWorld:
    """The emulated AWS with one cluster, a VPC, a target group, config in SSM and Secrets Manager."""

    clients: AwsClients
    tmp: Path
    port: int  # the containerPort of the echo service (free, so parallel runs do not collide)
    cluster_arn: str = ""
    target_group_arn: str = ""
    subnet: str = ""
    security_group: str = ""
    ssm_arn: str = ""
    secret_arn: str = ""
    runners: list[EcsRunner] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    @property
    def run_dir(self) -> Path:
        return self.tmp / "run"

    def setup(self) -> EcsWorld:
        ec2, elbv2 = self.client("ec2"), self.client("elbv2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.security_group = ec2.create_security_group(GroupName="tasks", Description="t", VpcId=vpc)["GroupId"]
        self.target_group_arn = elbv2.create_target_group(
            Name="echo", Protocol="HTTP", Port=self.port, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(
            TargetGroupArn=self.target_group_arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
        )
        self.cluster_arn = self.client("ecs").create_cluster(clusterName="mailstack-test")["cluster"]["clusterArn"]
        ssm = self.client("ssm")
        ssm.put_parameter(Name="/mailstack/test/api/token", Value="s3cr3t-token", Type="SecureString")
        ssm.put_parameter(Name="/mailstack/test/db/host", Value="db.abc.us-east-1.rds.amazonaws.com", Type="String")
        ssm.put_parameter(Name="/mailstack/test/db/port", Value="5432", Type="String")
        self.ssm_arn = ssm.get_parameter(Name="/mailstack/test/api/token")["Parameter"]["ARN"]
        self.secret_arn = self.client("secretsmanager").create_secret(
            Name="rds!db-test", SecretString=json.dumps({"username": "mailstack", "password": "pw-from-rds"})
        )["ARN"]
        return self

    def register(self, family: str, command: list[str] | None = None, *, env: dict[str, str] | None = None,
                 secrets: list[dict[str, str]] | None = None, tags: dict[str, str] | None = None,
                 ports: bool = True, health_check: dict[str, Any] | None = None, image: str = IMAGE) -> str:
        container: dict[str, Any] = {
            "name": family,
            "image": image,
            "essential": True,
            "environment": [{"name": k, "value": v} for k, v in {"PORT": str(self.port), **(env or {})}.items()],
            "secrets": secrets or [],
            "stopTimeout": 10,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": f"/ecs/test/{family}", "awslogs-region": REGION,
                            "awslogs-stream-prefix": family},
            },
        }
        if command is not None:
            container["command"] = command
        if ports:
            container["portMappings"] = [{"containerPort": self.port, "protocol": "tcp"}]
        if health_check:
            container["healthCheck"] = health_check
        answer = self.client("ecs").register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[container],
            **({"tags": [{"key": k, "value": v} for k, v in tags.items()]} if tags else {}),
        )
        return answer["taskDefinition"]["taskDefinitionArn"]

    def service(self, name: str, task_definition: str, desired: int = 1, load_balanced: bool = True) -> str:
        kwargs: dict[str, Any] = {}
        if load_balanced:
            kwargs["loadBalancers"] = [
                {"targetGroupArn": self.target_group_arn, "containerName": name, "containerPort": self.port}
            ]
        return self.client("ecs").create_service(
            cluster=self.cluster_arn, serviceName=name, taskDefinition=task_definition, desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [self.subnet],
                                                          "securityGroups": [self.security_group]}},
            **kwargs,
        )["service"]["serviceArn"]

    def runner(self, **kwargs: Any) -> EcsRunner:
        options: dict[str, Any] = {"image_map": {"echo-service": ECHO_DIR / "Dockerfile"}}
        options.update(kwargs)
        context = RuntimeContext(self.clients, Clock(TIME_SCALE), self.run_dir, LocalCA(self.tmp / "ca"))
        runner = EcsRunner(context, EcsOptions(**options))
        self.runners.append(runner)
        return runner

    def targets(self) -> set[tuple[str, int]]:
        described = self.client("elbv2").describe_target_health(TargetGroupArn=self.target_group_arn)
        return {(d["Target"]["Id"], d["Target"]["Port"]) for d in described["TargetHealthDescriptions"]}

    def get(self, ip: str, path: str) -> httpx.Response:
        return httpx.get(f"http://{ip}:{self.port}{path}", timeout=5, trust_env=False)


@pytest.fixture
def world(
    moto_url: str, aws_clients: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EcsWorld]:
    # The in-process moto builds its EC2 backend after each reset; without the default AMIs that is
    # 0.05 s instead of 2-3 s. Scoped to these tests (the backend is built during this fixture).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    httpx.post(f"{moto_url}/moto-api/reset", timeout=120).raise_for_status()  # slow under load
    created = EcsWorld(aws_clients, tmp_path, free_port()).setup()
    try:
        yield created
    finally:
        for runner in created.runners:
            runner.stop()
        leftover = processes_of(created.run_dir)
        reap(created.run_dir, grace=2)
        assert not leftover, f"processes left running: {[p.cmdline() for p in leftover]}"
