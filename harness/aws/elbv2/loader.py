"""Read the ALB configuration back from the emulated AWS (ELBv2 + ACM) into `harness.aws.elbv2.model`.

Nothing here knows a name: every load balancer, listener, rule and target group comes from the API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from harness.aws.elbv2.model import (
    Action,
    AlbModel,
    Condition,
    FixedResponseConfig,
    HealthCheck,
    Listener,
    LoadBalancer,
    RedirectConfig,
    Rule,
    Target,
    TargetGroup,
    WeightedTargetGroup,
)

log = logging.getLogger(__name__)

ROUTING_ACTIONS = {"forward", "redirect", "fixed-response"}
# describe-target-health reasons meaning "this target is no longer registered" (the emulator may be
# patched to report the data plane's own states back; a draining target is on its way out).
GONE_REASONS = {"Target.NotRegistered", "Target.DeregistrationInProgress"}


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def _attributes(items: Iterable[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item.get("Value", "") for item in items}


def parse_condition(raw: dict[str, Any]) -> Condition:
    fld = raw.get("Field", "")
    if fld == "path-pattern":
        values = raw.get("PathPatternConfig", {}).get("Values") or raw.get("Values", [])
        return Condition(field=fld, values=tuple(values))
    if fld == "host-header":
        values = raw.get("HostHeaderConfig", {}).get("Values") or raw.get("Values", [])
        return Condition(field=fld, values=tuple(values))
    if fld == "http-header":
        cfg = raw.get("HttpHeaderConfig", {})
        return Condition(field=fld, header_name=cfg.get("HttpHeaderName", ""), values=tuple(cfg.get("Values", [])))
    if fld == "http-request-method":
        values = raw.get("HttpRequestMethodConfig", {}).get("Values") or raw.get("Values", [])
        return Condition(field=fld, values=tuple(values))
    if fld == "query-string":
        raw_pairs = raw.get("QueryStringConfig", {}).get("Values", [])
        pairs = tuple((p.get("Key", ""), p.get("Value", "")) for p in raw_pairs)
        return Condition(field=fld, query_pairs=pairs)
    if fld == "source-ip":
        values = raw.get("SourceIpConfig", {}).get("Values") or raw.get("Values", [])
        return Condition(field=fld, values=tuple(values))
    return Condition(field=fld, values=tuple(raw.get("Values", [])))


def _status_code(raw: str | int | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    return int(str(raw).removeprefix("HTTP_"))


def parse_action(raw_actions: list[dict[str, Any]]) -> Action:
    """The routing action of a rule: the last forward/redirect/fixed-response by `Order`."""
    ordered = sorted(enumerate(raw_actions), key=lambda pair: (pair[1].get("Order", 0), pair[0]))
    routing = [a for _, a in ordered if a.get("Type") in ROUTING_ACTIONS]
    if not routing:
        kinds = ",".join(a.get("Type", "?") for a in raw_actions) or "none"
        return Action(type="unsupported", unsupported_type=kinds)
    raw = routing[-1]
    kind = raw["Type"]
    if kind == "forward":
        groups = raw.get("ForwardConfig", {}).get("TargetGroups") or []
        weighted = tuple(WeightedTargetGroup(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups)
        if not weighted and raw.get("TargetGroupArn"):
            weighted = (WeightedTargetGroup(raw["TargetGroupArn"], 1),)
        return Action(type="forward", target_groups=weighted)
    if kind == "redirect":
        cfg = raw.get("RedirectConfig", {})
        return Action(
            type="redirect",
            redirect=RedirectConfig(
                protocol=cfg.get("Protocol") or "#{protocol}",
                port=str(cfg.get("Port") or "#{port}"),
                host=cfg.get("Host") or "#{host}",
                path=cfg.get("Path") or "/#{path}",
                query=cfg["Query"] if cfg.get("Query") is not None else "#{query}",
                status_code=_status_code(cfg.get("StatusCode"), 301),
            ),
        )
    cfg = raw.get("FixedResponseConfig", {})
    return Action(
        type="fixed-response",
        fixed_response=FixedResponseConfig(
            status_code=_status_code(cfg.get("StatusCode"), 200),
            content_type=cfg.get("ContentType") or "text/plain; charset=utf-8",
            message_body=cfg.get("MessageBody") or "",
        ),
    )


def parse_rule(raw: dict[str, Any]) -> Rule:
    priority_raw = str(raw.get("Priority", "default"))
    priority = None if raw.get("IsDefault") or priority_raw == "default" else int(priority_raw)
    return Rule(
        arn=raw.get("RuleArn", ""),
        priority=priority,
        conditions=tuple(parse_condition(c) for c in raw.get("Conditions", [])),
        action=parse_action(raw.get("Actions", [])),
    )


def sort_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Rules in evaluation order: lowest priority number first, the default rule last."""
    return tuple(sorted(rules, key=lambda r: (r.priority is None, r.priority or 0)))


def parse_health_check(raw: dict[str, Any]) -> HealthCheck:
    matcher = raw.get("Matcher", {}) or {}
    return HealthCheck(
        enabled=bool(raw.get("HealthCheckEnabled", True)),
        protocol=(raw.get("HealthCheckProtocol") or raw.get("Protocol") or "HTTP").upper(),
        port=str(raw.get("HealthCheckPort") or "traffic-port"),
        path=raw.get("HealthCheckPath") or "/",
        interval_seconds=float(raw.get("HealthCheckIntervalSeconds") or 30),
        timeout_seconds=float(raw.get("HealthCheckTimeoutSeconds") or 5),
        healthy_threshold=int(raw.get("HealthyThresholdCount") or 5),
        unhealthy_threshold=int(raw.get("UnhealthyThresholdCount") or 2),
        matcher=str(matcher.get("HttpCode") or "200"),
    )


class ModelLoader:
    """Reads every application load balancer, its listeners, rules, target groups and targets.

    `elbv2` and `acm` are boto3 clients pointed at the emulator. ACM lookups are cached per ARN.
    """

    def __init__(self, elbv2: Any, acm: Any) -> None:
        self._elbv2 = elbv2
        self._acm = acm
        self._cert_domains: dict[str, tuple[str, ...]] = {}

    def load(self) -> AlbModel:
        load_balancers: dict[str, LoadBalancer] = {}
        listeners: dict[str, Listener] = {}
        for raw_lb in _paginate(self._elbv2, "describe_load_balancers", "LoadBalancers"):
            if raw_lb.get("Type", "application") != "application":
                continue
            lb = self._load_balancer(raw_lb)
            load_balancers[lb.arn] = lb
            for raw_listener in _paginate(self._elbv2, "describe_listeners", "Listeners", LoadBalancerArn=lb.arn):
                listener = self._listener(raw_listener)
                if listener is not None:
                    listeners[listener.arn] = listener

        target_groups: dict[str, TargetGroup] = {}
        targets: dict[str, tuple[Target, ...]] = {}
        for raw_tg in _paginate(self._elbv2, "describe_target_groups", "TargetGroups"):
            tg = self._target_group(raw_tg)
            target_groups[tg.arn] = tg
            targets[tg.arn] = self._targets(tg)
        return AlbModel(load_balancers, listeners, target_groups, targets)

    def _load_balancer(self, raw: dict[str, Any]) -> LoadBalancer:
        attrs = _attributes(
            self._elbv2.describe_load_balancer_attributes(LoadBalancerArn=raw["LoadBalancerArn"])["Attributes"]
        )
        return LoadBalancer(
            arn=raw["LoadBalancerArn"],
            name=raw.get("LoadBalancerName", ""),
            dns_name=raw.get("DNSName", ""),
            type=raw.get("Type", "application"),
            idle_timeout_seconds=float(attrs.get("idle_timeout.timeout_seconds") or 60),
            client_keep_alive_seconds=float(attrs.get("client_keep_alive.seconds") or 3600),
        )

    def _listener(self, raw: dict[str, Any]) -> Listener | None:
        protocol = (raw.get("Protocol") or "HTTP").upper()
        if protocol not in {"HTTP", "HTTPS"}:
            log.warning("listener %s uses %s; only HTTP and HTTPS are emulated", raw["ListenerArn"], protocol)
            return None
        rules = [
            parse_rule(r) for r in _paginate(self._elbv2, "describe_rules", "Rules", ListenerArn=raw["ListenerArn"])
        ]
        if not any(r.is_default for r in rules):
            rules.append(parse_rule({"Priority": "default", "Actions": raw.get("DefaultActions", [])}))
        domains: tuple[str, ...] = ()
        if protocol == "HTTPS":
            cert_arns = [c["CertificateArn"] for c in raw.get("Certificates", []) if c.get("CertificateArn")]
            extra = _paginate(
                self._elbv2, "describe_listener_certificates", "Certificates", ListenerArn=raw["ListenerArn"]
            )
            cert_arns += [c["CertificateArn"] for c in extra if c.get("CertificateArn")]
            domains = tuple(dict.fromkeys(d for arn in cert_arns for d in self._certificate_domains(arn)))
        return Listener(
            arn=raw["ListenerArn"],
            load_balancer_arn=raw["LoadBalancerArn"],
            port=int(raw["Port"]),
            protocol=protocol,
            rules=sort_rules(rules),
            certificate_domains=domains,
        )

    def _certificate_domains(self, cert_arn: str) -> tuple[str, ...]:
        if cert_arn not in self._cert_domains:
            try:
                cert = self._acm.describe_certificate(CertificateArn=cert_arn)["Certificate"]
            except Exception as exc:  # a certificate from IAM or another region: serve without its names
                log.warning(
                    "cannot read certificate %s from ACM (%s); its domain names are not in the SANs", cert_arn, exc
                )
                return ()
            names = [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
            self._cert_domains[cert_arn] = tuple(dict.fromkeys(n for n in names if n))
        return self._cert_domains[cert_arn]

    def _target_group(self, raw: dict[str, Any]) -> TargetGroup:
        attrs = _attributes(
            self._elbv2.describe_target_group_attributes(TargetGroupArn=raw["TargetGroupArn"])["Attributes"]
        )
        return TargetGroup(
            arn=raw["TargetGroupArn"],
            name=raw.get("TargetGroupName", ""),
            protocol=(raw.get("Protocol") or "HTTP").upper(),
            port=int(raw["Port"]) if raw.get("Port") is not None else None,
            target_type=raw.get("TargetType", "instance"),
            health_check=parse_health_check(raw),
            deregistration_delay_seconds=float(attrs.get("deregistration_delay.timeout_seconds") or 300),
            load_balancer_arns=tuple(dict.fromkeys(raw.get("LoadBalancerArns", []))),
        )

    def _targets(self, tg: TargetGroup) -> tuple[Target, ...]:
        if tg.target_type == "lambda":
            return ()
        descriptions = self._elbv2.describe_target_health(TargetGroupArn=tg.arn)["TargetHealthDescriptions"]
        found: list[Target] = []
        for desc in descriptions:
            if desc.get("TargetHealth", {}).get("Reason") in GONE_REASONS:
                continue
            raw = desc["Target"]
            port = raw.get("Port", tg.port)
            if port is None:
                continue
            found.append(Target(id=raw["Id"], port=int(port)))
        return tuple(dict.fromkeys(found))
