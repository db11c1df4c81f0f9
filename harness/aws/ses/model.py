"""The receipt configuration of SES inbound, as plain data: rule set, rules, actions, IP filters.

Built from the shapes the SES API returns (`DescribeActiveReceiptRuleSet`, `ListReceiptFilters`,
`ListIdentities`), with the API's documented defaults applied where a field is absent
(`Enabled`=false, `ScanEnabled`=false, `TlsPolicy`="Optional", SNS `Encoding`="UTF-8").
Matching follows SES: a recipient entry is a full address, a domain (that domain only) or
".domain" (any sub-domain of it); a rule without recipients matches every verified domain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Action kinds, named as SES names them in the `receipt.action.type` of a notification.
S3 = "S3"
SNS = "SNS"
BOUNCE = "Bounce"
LAMBDA = "Lambda"
STOP = "Stop"
WORKMAIL = "WorkMail"
ADD_HEADER = "AddHeader"
CONNECT = "Connect"

_API_KEYS = {
    "S3Action": S3,
    "SNSAction": SNS,
    "BounceAction": BOUNCE,
    "LambdaAction": LAMBDA,
    "StopAction": STOP,
    "WorkmailAction": WORKMAIL,
    "AddHeaderAction": ADD_HEADER,
    "ConnectAction": CONNECT,
}


@dataclass(frozen=True)
class ReceiptAction:
    """One action of a rule: `kind` (S3, SNS, Bounce, ...) and its API fields unchanged."""

    kind: str
    params: Mapping[str, Any]

    @property
    def topic_arn(self) -> str | None:
        value = self.params.get("TopicArn")
        return str(value) if value else None

    def describe(self) -> str:
        """Short human text for logs: `S3(bucket=raw-mail, prefix=inbound/)`."""
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({shown})"


@dataclass(frozen=True)
class ReceiptRule:
    name: str
    enabled: bool = False
    recipients: tuple[str, ...] = ()
    scan_enabled: bool = False
    tls_policy: str = "Optional"
    actions: tuple[ReceiptAction, ...] = ()

    @property
    def requires_tls(self) -> bool:
        return self.tls_policy.lower() == "require"

    def matches(self, recipient: str, verified: VerifiedIdentities) -> bool:
        """True when this rule applies to `recipient` (enabled or not: callers check `enabled`)."""
        address = recipient.strip().strip("<>").casefold()
        domain = address.rpartition("@")[2]
        if not self.recipients:
            return verified.covers(address)
        for entry in self.recipients:
            wanted = entry.strip().casefold()
            if "@" in wanted:
                if address == wanted:
                    return True
            elif wanted.startswith("."):
                if domain.endswith(wanted) and len(domain) > len(wanted):
                    return True
            elif domain == wanted:
                return True
        return False


@dataclass(frozen=True)
class IpFilter:
    name: str
    policy: str  # "Allow" | "Block"
    cidr: str

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)

    def covers(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        network = self.network
        return address.version == network.version and address in network


@dataclass(frozen=True)
class VerifiedIdentities:
    """Verified domains and email addresses (lower-cased)."""

    domains: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, identities: Iterable[str]) -> VerifiedIdentities:
        domains: set[str] = set()
        addresses: set[str] = set()
        for identity in identities:
            (addresses if "@" in identity else domains).add(identity.casefold())
        return cls(frozenset(domains), frozenset(addresses))

    def covers(self, address: str) -> bool:
        address = address.casefold()
        return address in self.addresses or address.rpartition("@")[2] in self.domains


@dataclass(frozen=True)
class FilterVerdict:
    allowed: bool
    filter: IpFilter | None = None


@dataclass(frozen=True)
class ReceiptConfig:
    """Everything SES inbound decides with: the active rule set, IP filters, verified identities."""

    rule_set_name: str | None = None
    rules: tuple[ReceiptRule, ...] = ()
    filters: tuple[IpFilter, ...] = ()
    verified: VerifiedIdentities = field(default_factory=VerifiedIdentities)
    #: Things the emulator could not tell us (e.g. an operation it does not implement).
    warnings: tuple[str, ...] = ()

    def enabled_rules(self) -> list[ReceiptRule]:
        return [rule for rule in self.rules if rule.enabled]

    def rules_for(self, recipient: str) -> list[ReceiptRule]:
        """The enabled rules that apply to `recipient`, in rule-set order."""
        return [rule for rule in self.enabled_rules() if rule.matches(recipient, self.verified)]

    def accepts(self, recipient: str) -> bool:
        return bool(self.rules_for(recipient))

    def check_ip(self, ip: str) -> FilterVerdict:
        """SES semantics: an Allow filter wins over a Block filter; no filter means allowed."""
        for ip_filter in self.filters:
            if ip_filter.policy.lower() == "allow" and ip_filter.covers(ip):
                return FilterVerdict(True, ip_filter)
        for ip_filter in self.filters:
            if ip_filter.policy.lower() == "block" and ip_filter.covers(ip):
                return FilterVerdict(False, ip_filter)
        return FilterVerdict(True, None)


def _as_bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def action_from_api(item: Mapping[str, Any]) -> ReceiptAction:
    """`{"S3Action": {...}}` → ReceiptAction("S3", {...}). Unknown keys keep their API name."""
    for key, value in item.items():
        kind = _API_KEYS.get(key, key.removesuffix("Action") or key)
        params = dict(value) if isinstance(value, Mapping) else {}
        if kind == SNS:
            params.setdefault("Encoding", "UTF-8")
        return ReceiptAction(kind, params)
    return ReceiptAction("Unknown", {})


def rule_from_api(item: Mapping[str, Any]) -> ReceiptRule:
    return ReceiptRule(
        name=str(item["Name"]),
        enabled=_as_bool(item.get("Enabled"), False),
        recipients=tuple(str(r) for r in item.get("Recipients") or ()),
        scan_enabled=_as_bool(item.get("ScanEnabled"), False),
        tls_policy=str(item.get("TlsPolicy") or "Optional"),
        actions=tuple(action_from_api(a) for a in item.get("Actions") or ()),
    )


def filters_from_api(items: Sequence[Mapping[str, Any]]) -> tuple[IpFilter, ...]:
    filters = []
    for item in items:
        ip = item.get("IpFilter") or {}
        filters.append(IpFilter(str(item.get("Name", "")), str(ip.get("Policy", "")), str(ip.get("Cidr", ""))))
    return tuple(filters)
