"""Rule evaluation, as AWS does it: rules by priority, conditions AND-ed, condition values OR-ed.

Pure functions over `RequestView`; no network, no clock.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from harness.aws.elbv2.model import Condition, Rule


@dataclass(frozen=True)
class RequestView:
    """What the rules may look at in one request."""

    method: str
    path: str
    query_string: str = ""
    host: str = ""  # the Host header as sent (may carry a port)
    headers: tuple[tuple[str, str], ...] = ()
    client_ip: str = "127.0.0.1"

    @property
    def hostname(self) -> str:
        """The Host header without its port (IPv6 brackets kept)."""
        host = self.host
        if host.startswith("["):
            return host.split("]", 1)[0] + "]"
        return host.rsplit(":", 1)[0] if ":" in host else host

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """AWS wildcards: `*` any run of characters, `?` exactly one; everything else literal."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    return _wildcard(pattern, case_sensitive).match(value) is not None


def _ip_in(client_ip: str, cidrs: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def condition_matches(condition: Condition, request: RequestView) -> bool:
    fld = condition.field
    if fld == "path-pattern":
        return any(wildcard_match(p, request.path, case_sensitive=True) for p in condition.values)
    if fld == "host-header":
        return any(wildcard_match(p, request.hostname, case_sensitive=False) for p in condition.values)
    if fld == "http-header":
        present = request.header_values(condition.header_name)
        return any(wildcard_match(p, v, case_sensitive=False) for p in condition.values for v in present)
    if fld == "http-request-method":
        return request.method in condition.values
    if fld == "query-string":
        params = parse_qsl(request.query_string, keep_blank_values=True)
        return any(
            (not key or wildcard_match(key, k, case_sensitive=False)) and wildcard_match(value, v, case_sensitive=False)
            for key, value in condition.query_pairs
            for k, v in params
        )
    if fld == "source-ip":
        return _ip_in(request.client_ip, condition.values)
    return False  # a condition this data plane does not understand never matches


def rule_matches(rule: Rule, request: RequestView) -> bool:
    return all(condition_matches(c, request) for c in rule.conditions)


def select_rule(rules: tuple[Rule, ...], request: RequestView) -> Rule | None:
    """The first rule (in priority order, default last) whose conditions all hold."""
    for rule in rules:
        if rule.is_default or rule_matches(rule, request):
            return rule
    return None
