"""What the ECS runner needs beyond the runtime context: the ECS-specific settings, in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.aws.ecs.addresses import LoopbackAllocator
from harness.aws.ecs.drivers import TaskDriver
from harness.aws.ecs.environment import BIND_HOST_VAR
from harness.aws.ecs.images import ImageMapValue, ImageResolver
from harness.aws.ecs.loader import RUN_BEFORE_TAG
from harness.aws.rds.binding import RdsBinding

_NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class EcsOptions:
    """ECS-specific settings of `EcsRunner`. Durations are AWS seconds on the context's clock.

    image_map: repository name -> Dockerfile path / `ImageSource`, or a ready `ImageResolver` (which
        may also carry fallback roots, e.g. `ImageResolver(map, fallback_roots=[project / "services"])`).
    rds_bindings: emulated RDS endpoint -> real PostgreSQL, applied to every task's environment.
    driver: "process" (default), "container" (not available yet) or a `TaskDriver`.
    run_before_services: task definitions (family, family:revision or ARN) to run once before the
        services; `run_before_tag` (default `harness:run-before-services=true`, None disables) adds
        every family carrying that tag. `run_before_timeout` is real seconds (a migration takes what it takes).
    poll_interval, backoff_base, backoff_cap, stable_after: the scheduler's poll of the emulator and the
        restart throttle (`harness.aws.ecs.backoff`).
    target_health: the load balancer's view, `(target group ARN, ip, port) -> state` ("healthy",
        "unhealthy", ...; None when unknown), e.g. `AlbDataPlane.target_state`. A RUNNING service task
        whose target is "unhealthy" after the grace period is stopped ("Task failed ELB health checks
        in (target-group ...)") and replaced, as the ECS service scheduler does.
    environment_overrides: set last in every container's environment (over the task definition, secrets
        and the RDS rewrite). What the platform gets from AWS itself and the local cloud must supply:
        e.g. `harness.aws.sns.trust.sns_trust_overrides(endpoint)` makes the services trust the
        emulator's SNS signing certificate and SubscribeURL, as on AWS they trust SNS's.
    """

    image_map: Mapping[str, ImageMapValue] | ImageResolver | None = None
    rds_bindings: Sequence[RdsBinding] = ()
    driver: TaskDriver | str = "process"
    run_before_services: Sequence[str] = ()
    run_before_tag: tuple[str, str] | None = RUN_BEFORE_TAG
    run_before_timeout: float = 600.0
    run_before_cluster: str | None = None
    poll_interval: float = 1.0
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    stable_after: float = 60.0
    health_checks: bool = True
    drain: bool = True
    die_with_parent: bool = True
    addresses: LoopbackAllocator | None = None
    bind_host_var: str = BIND_HOST_VAR
    log_flush_interval: float = 0.5
    environment_overrides: Mapping[str, str] = field(default_factory=lambda: _NO_OVERRIDES)
    target_health: Callable[[str, str, int], str | None] | None = None
