"""The ECS configuration as read back from the emulated AWS: plain, immutable data, no behaviour.

Field names follow the ECS API (`describe_task_definition`, `describe_services`) so each one maps to
the wire format; `harness.aws.ecs.loader` builds these from boto3 output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_STOP_TIMEOUT = 30.0  # seconds; Fargate's default when a container sets no stopTimeout


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int | None = None
    protocol: str = "tcp"
    name: str = ""


@dataclass(frozen=True)
class HealthCheck:
    """A container health check: `command` is `["CMD", argv...]` or `["CMD-SHELL", "shell line"]`."""

    command: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 5.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class LogConfiguration:
    """The `awslogs` log driver options (other drivers are kept by name only and not shipped)."""

    driver: str
    group: str = ""
    region: str = ""
    stream_prefix: str = ""
    create_group: bool = False
    options: tuple[tuple[str, str], ...] = ()

    @property
    def is_awslogs(self) -> bool:
        return self.driver == "awslogs" and bool(self.group)


@dataclass(frozen=True)
class Secret:
    """One `secrets` entry: `value_from` is an SSM parameter (ARN or name) or a Secrets Manager ARN."""

    name: str
    value_from: str


@dataclass(frozen=True)
class EnvironmentFile:
    """One `environmentFiles` entry (type `s3`): an S3 object ARN holding KEY=VALUE lines."""

    value: str
    type: str = "s3"


@dataclass(frozen=True)
class ContainerDefinition:
    name: str
    image: str
    essential: bool = True
    command: tuple[str, ...] | None = None  # None = not set (the image CMD applies), () = set empty
    entry_point: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    environment_files: tuple[EnvironmentFile, ...] = ()
    secrets: tuple[Secret, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    health_check: HealthCheck | None = None
    log_configuration: LogConfiguration | None = None
    working_directory: str | None = None
    stop_timeout: float | None = None


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    containers: tuple[ContainerDefinition, ...]
    network_mode: str = "awsvpc"
    cpu: str = ""
    memory: str = ""
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def essential_containers(self) -> tuple[ContainerDefinition, ...]:
        return tuple(c for c in self.containers if c.essential)

    @property
    def stop_timeout(self) -> float:
        """The longest container `stopTimeout` (ECS stops containers in parallel), default 30 s."""
        timeouts = [c.stop_timeout for c in self.containers if c.stop_timeout is not None]
        return max(timeouts) if timeouts else DEFAULT_STOP_TIMEOUT

    def container(self, name: str) -> ContainerDefinition | None:
        return next((c for c in self.containers if c.name == name), None)

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class LoadBalancerRef:
    """One `loadBalancers` entry of a service: where its tasks register."""

    target_group_arn: str
    container_name: str
    container_port: int


@dataclass(frozen=True)
class NetworkConfiguration:
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = False


@dataclass(frozen=True)
class Service:
    arn: str
    name: str
    cluster_arn: str
    task_definition_arn: str
    desired_count: int
    status: str = "ACTIVE"
    launch_type: str = "FARGATE"
    load_balancers: tuple[LoadBalancerRef, ...] = ()
    network_configuration: NetworkConfiguration | None = None
    health_check_grace_period: float = 0.0  # seconds after a task starts during which ELB health is ignored

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class Cluster:
    arn: str
    name: str
    status: str = "ACTIVE"


@dataclass(frozen=True)
class EcsModel:
    """Everything the scheduler needs from one read of the emulator."""

    clusters: tuple[Cluster, ...] = ()
    services: tuple[Service, ...] = ()
    task_definitions: dict[str, TaskDefinition] = field(default_factory=dict)  # by ARN

    def service(self, arn: str) -> Service | None:
        return next((s for s in self.services if s.arn == arn), None)

    def cluster(self, arn: str) -> Cluster | None:
        return next((c for c in self.clusters if c.arn == arn), None)
