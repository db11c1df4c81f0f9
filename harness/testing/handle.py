"""A running local cloud as its users touch it: SMTP, the API through the ALB, the database, AWS clients.

Everything is discovered from the stack's state, what the data plane publishes and the emulated AWS
APIs — the mail domains from the active receipt rules, the API token from the task definition's
`API_TOKEN` secret, the database credentials from the RDS-managed secret.
"""

from __future__ import annotations

import functools
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import psycopg

from harness.aws.ecs.secrets import SecretResolver, parse_value_from
from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.core.errors import HarnessError
from harness.core.rundir import AlbInfo, AlbListenerInfo, RunDir, RuntimeInfo, StackState
from harness.stack import Stack


class StackHandle:
    def __init__(self, state: StackState, runtime: RuntimeInfo, run_dir: Path) -> None:
        self.state = state
        self.runtime = runtime
        self.run_dir = run_dir
        self.paths = RunDir(run_dir)
        self.aws = AwsClients(state.aws_endpoint_url, state.region)

    @classmethod
    def attach(cls, settings: HarnessSettings) -> StackHandle:
        stack = Stack(settings)
        state = stack.load_state()
        if state is None or not stack.healthy(state):
            stack.paths.read_runtime()  # the data plane of another harness is a RunDirFileError that says so
            raise HarnessError("no local cloud is running here", "start one with `harness up`")
        return cls(state, stack.paths.read_runtime() or RuntimeInfo(ready=False), stack.run_dir)

    def refresh(self) -> None:
        self.runtime = self.paths.read_runtime() or self.runtime

    # -- SES inbound -------------------------------------------------------------------------------
    @property
    def smtp(self) -> tuple[str, int]:
        smtp = self.runtime.smtp
        if smtp is None:
            raise HarnessError("the data plane publishes no SMTP endpoint", "is the runtime running? `harness up`")
        return smtp.host, smtp.port

    @functools.cached_property
    def mail_domains(self) -> list[str]:
        """Domains the active receipt rules accept mail for, in rule order."""
        rules = self.aws.client("ses").describe_active_receipt_rule_set().get("Rules", [])
        domains: list[str] = []
        for rule in rules:
            for recipient in rule.get("Recipients", []):
                domain = recipient.split("@")[-1].lstrip(".")
                if domain not in domains:
                    domains.append(domain)
        if not domains:
            raise HarnessError("no active SES receipt rule names a recipient domain",
                               "declare aws_ses_receipt_rule recipients in the Terraform")
        return domains

    def ses_traces(self) -> list[dict[str, Any]]:
        """What SES inbound did with each accepted mail (rules, actions, S3 keys), oldest first."""
        path = self.paths.ses_traces
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # -- the API behind the ALB ----------------------------------------------------------------------
    @property
    def alb(self) -> AlbInfo:
        if self.runtime.alb is None:
            raise HarnessError("the data plane publishes no ALB", "is the runtime running? `harness up`")
        return self.runtime.alb

    def listener(self, port: int) -> AlbListenerInfo:
        for listener in self.alb.listeners:
            if listener.port == port:
                return listener
        raise HarnessError(f"no ALB listener on port {port}", "check the Terraform's aws_lb_listener resources")

    @property
    def ca_bundle(self) -> str:
        return self.alb.ca_bundle

    def https(self, **kwargs: Any) -> httpx.Client:
        """A client for the ALB's :443 listener that verifies TLS against the harness CA."""
        verify = ssl.create_default_context(cafile=self.ca_bundle)
        return httpx.Client(**{"base_url": self.listener(443).local_url, "verify": verify, "timeout": 30, **kwargs})

    def container_secret(self, name: str) -> str:
        """The value ECS would inject as `name` into a service's container (first service that declares it)."""
        ecs = self.aws.client("ecs")
        for cluster in ecs.list_clusters()["clusterArns"]:
            for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
                service = ecs.describe_services(cluster=cluster, services=[arn])["services"][0]
                task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
                for container in task["containerDefinitions"]:
                    for secret in container.get("secrets", []):
                        if secret["name"] == name:
                            return SecretResolver(self.aws).value(parse_value_from(secret["valueFrom"]))
        raise HarnessError(f"no service declares the secret {name}", "check the task definitions' `secrets`")

    @functools.cached_property
    def api_token(self) -> str:
        return self.container_secret("API_TOKEN")

    def api(self) -> httpx.Client:
        return self.https(headers={"Authorization": f"Bearer {self.api_token}"})

    # -- the database behind RDS ---------------------------------------------------------------------
    def db(self) -> psycopg.Connection[Any]:
        """A connection as the RDS master user, with the credentials from the RDS-managed secret."""
        if not self.state.rds:
            raise HarnessError("the Terraform declares no RDS PostgreSQL instance", "nothing to connect to")
        binding = self.state.rds[0]
        secret = self.aws.client("secretsmanager").get_secret_value(SecretId=binding.master_secret_arn)
        credentials = json.loads(secret["SecretString"])
        return psycopg.connect(host=binding.host, port=binding.port, dbname=binding.dbname,
                               user=credentials["username"], password=credentials["password"], autocommit=True)
