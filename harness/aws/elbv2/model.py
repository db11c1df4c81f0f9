"""The ALB configuration as read back from the emulated AWS: plain, immutable data, no behaviour.

Field names follow the ELBv2 API so a reader can map each one to `describe_*` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ActionType = Literal["forward", "redirect", "fixed-response", "unsupported"]


@dataclass(frozen=True)
class Condition:
    """One rule condition. `values` are OR-ed; the conditions of one rule are AND-ed.

    field: path-pattern | host-header | http-header | http-request-method | query-string | source-ip.
    For http-header, `header_name` is set; for query-string, `values` holds (key, value) pairs
    with key "" when the condition has no key.
    """

    field: str
    values: tuple[str, ...] = ()
    header_name: str = ""
    query_pairs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WeightedTargetGroup:
    target_group_arn: str
    weight: int = 1


@dataclass(frozen=True)
class RedirectConfig:
    protocol: str = "#{protocol}"
    port: str = "#{port}"
    host: str = "#{host}"
    path: str = "/#{path}"
    query: str = "#{query}"
    status_code: int = 301


@dataclass(frozen=True)
class FixedResponseConfig:
    status_code: int
    content_type: str = "text/plain; charset=utf-8"
    message_body: str = ""


@dataclass(frozen=True)
class Action:
    """The routing action of a rule (the last one in `Order`; authenticate-* actions are not emulated)."""

    type: ActionType
    target_groups: tuple[WeightedTargetGroup, ...] = ()
    redirect: RedirectConfig | None = None
    fixed_response: FixedResponseConfig | None = None
    unsupported_type: str = ""


@dataclass(frozen=True)
class Rule:
    arn: str
    priority: int | None  # None is the listener's default rule, evaluated last
    conditions: tuple[Condition, ...]
    action: Action

    @property
    def is_default(self) -> bool:
        return self.priority is None


@dataclass(frozen=True)
class Listener:
    arn: str
    load_balancer_arn: str
    port: int
    protocol: str  # HTTP | HTTPS
    rules: tuple[Rule, ...]  # sorted by priority, default rule last
    certificate_domains: tuple[str, ...] = ()  # domain names + SANs of the listener's ACM certificates

    @property
    def scheme(self) -> str:
        return "https" if self.protocol.upper() == "HTTPS" else "http"


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    dns_name: str
    type: str
    idle_timeout_seconds: float = 60.0  # idle_timeout.timeout_seconds
    client_keep_alive_seconds: float = 3600.0  # client_keep_alive.seconds


@dataclass(frozen=True)
class HealthCheck:
    enabled: bool = True
    protocol: str = "HTTP"
    port: str = "traffic-port"  # "traffic-port" or a port number as a string
    path: str = "/"
    interval_seconds: float = 30.0
    timeout_seconds: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"  # HttpCode: "200", "200-299", "200,204"

    def port_for(self, traffic_port: int) -> int:
        return traffic_port if self.port == "traffic-port" else int(self.port)


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    name: str
    protocol: str
    port: int | None
    target_type: str
    health_check: HealthCheck
    deregistration_delay_seconds: float = 300.0
    load_balancer_arns: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class Target:
    """A registered target: `id` is the IP address (targets here are local, 127.0.0.x)."""

    id: str
    port: int


@dataclass(frozen=True)
class AlbModel:
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    listeners: dict[str, Listener] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    targets: dict[str, tuple[Target, ...]] = field(default_factory=dict)  # tg arn -> registered targets

    def target_groups_in_use(self) -> set[str]:
        """Target groups some listener rule forwards to (the others are `unused`, as in AWS)."""
        used: set[str] = set()
        for listener in self.listeners.values():
            for rule in listener.rules:
                used.update(w.target_group_arn for w in rule.action.target_groups)
        return used
