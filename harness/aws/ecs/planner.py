"""Task definition -> `TaskLaunch`: image, argv, environment and address of every essential container.

Non-essential containers (sidecars such as log routers or tracing agents) are not started: their
images are rarely buildable locally and nothing in the task depends on them for the harness.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.aws.ecs.addresses import LoopbackAllocator
from harness.aws.ecs.drivers import ContainerLaunch, TaskLaunch
from harness.aws.ecs.environment import BIND_HOST_VAR, build_environment, read_environment_files
from harness.aws.ecs.images import ImageResolver, container_argv, harness_path, resolve_program
from harness.aws.ecs.model import ContainerDefinition, TaskDefinition
from harness.aws.ecs.secrets import SecretResolver
from harness.aws.rds.binding import RdsBinding
from harness.core.clients import AwsClients
from harness.core.errors import HarnessError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContainerProgram:
    """What a container runs, before any per-task value (secrets, address) is known."""

    container: ContainerDefinition
    argv: list[str]
    cwd: Path
    image_via: str


class TaskPlanner:
    def __init__(
        self,
        clients: AwsClients,
        images: ImageResolver,
        bindings: Sequence[RdsBinding],
        addresses: LoopbackAllocator,
        *,
        bind_host_var: str = BIND_HOST_VAR,
        die_with_parent: bool = True,
    ) -> None:
        self.clients = clients
        self.images = images
        self.bindings = list(bindings)
        self.addresses = addresses
        self.bind_host_var = bind_host_var
        self.die_with_parent = die_with_parent
        self.secrets = SecretResolver(clients)

    def program(self, container: ContainerDefinition) -> ContainerProgram:
        """Image -> Dockerfile -> argv with its first word on this machine. Raises naming the fix."""
        resolved = self.images.resolve(container.image)
        cwd = resolved.source.context_dir
        argv = resolve_program(container_argv(container, resolved.config), harness_path(), cwd)
        return ContainerProgram(container=container, argv=argv, cwd=cwd, image_via=resolved.via)

    def check(self, task_def: TaskDefinition) -> list[ContainerProgram]:
        """Everything about a task definition that can fail before a task exists."""
        if not task_def.essential_containers:
            raise HarnessError(f"task definition {task_def.arn} has no essential container",
                               "mark at least one container essential")
        return [self.program(c) for c in task_def.essential_containers]

    def ports(self, task_def: TaskDefinition) -> list[int]:
        return [p.container_port for c in task_def.essential_containers for p in c.port_mappings]

    def plan(self, task_def: TaskDefinition, task_id: str, log_dir: Path, ip: str) -> TaskLaunch:
        """The launch of one task at `ip`: resolves secrets and environment files now (ECS does at start)."""
        for skipped in task_def.containers:
            if not skipped.essential:
                log.info("task %s: non-essential container %r is not started", task_id, skipped.name)
        emulator = self.clients.env()
        launches: list[ContainerLaunch] = []
        for program in self.check(task_def):
            container = program.container
            image = self.images.resolve(container.image).config
            secrets = self.secrets.resolve(container.secrets)
            env_files = (read_environment_files(self.clients.client("s3"), container.environment_files)
                         if container.environment_files else {})
            built = build_environment(
                container, image, emulator=emulator, secrets=secrets, env_files=env_files,
                bindings=self.bindings, bind_host=ip, bind_host_var=self.bind_host_var,
            )
            if built.rds_rewritten:
                log.info("task %s/%s: RDS endpoint rewritten in %s", task_id, container.name,
                         ", ".join(sorted(built.rds_rewritten)))
            launches.append(
                ContainerLaunch(
                    name=container.name,
                    image=container.image,
                    argv=program.argv,
                    env=built.env,
                    log_path=log_dir / f"{container.name}.log",
                    cwd=program.cwd,
                    essential=True,
                    ports=[p.container_port for p in container.port_mappings],
                    workdir=container.working_directory or image.workdir,
                )
            )
        return TaskLaunch(task_id=task_id, name=f"{task_def.family}-{task_id[:8]}", ip=ip, containers=launches,
                          die_with_parent=self.die_with_parent)
