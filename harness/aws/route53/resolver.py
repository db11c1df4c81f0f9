"""DNS as the local cloud sees it: public hostnames -> the local ports of the ALB listeners behind them.

On AWS, ``api.<domain>`` is a Route53 alias record whose target is the load balancer's DNS name, and
anything on the internet (SNS delivering to an https subscriber, a client) resolves it to the ALB. Here
the ALB data plane serves each listener on a local port, so the harness reads Route53 back from the
emulator and maps every name that aliases a load balancer to that load balancer's listeners:

    {"api.mailstack.example": {443: "127.0.0.1:50123", 80: "127.0.0.1:50122"}, ...}

Included: A/AAAA alias records (and CNAMEs) of *public* hosted zones whose target is a load balancer's
DNS name (case, trailing dot and a ``dualstack.`` prefix ignored), and each load balancer's own DNS
name. Private zones are left out: SNS resolves endpoints on the public internet. Wildcard records
(``*.example.com``, stored by Route53 as ``\\052.example.com.``) match any deeper name, the most
specific one winning (``lookup``).

The runtime daemon writes the map as a ``DnsTruth`` file (``write_dns_truth``, ``DnsTruthPublisher``) to
the run directory's ``dns_truth``, named to the moto process by ``DNS_TRUTH_ENV``; the moto process reads it
(``DnsTruthReader``) to deliver SNS http/https notifications to the local listener with the original
Host header and TLS server name.

Light module: imports nothing from moto or boto3 at import time (the emulator side imports it too).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.core.rundir import CA_BUNDLE_ENV, DNS_TRUTH_ENV, RunDir
from harness.core.truth import DnsTruth, TruthReader, write_truth

if TYPE_CHECKING:
    from harness.aws.elbv2.dataplane import AlbDataPlane

__all__ = [
    "CA_BUNDLE_ENV",
    "DNS_TRUTH_ENV",
    "DnsMap",
    "DnsTruthPublisher",
    "DnsTruthReader",
    "Route",
    "alb_ca_bundle",
    "dns_map",
    "ensure_alb_ca",
    "lookup",
    "read_dns_map",
    "resolve_url",
    "write_dns_truth",
]

DEFAULT_PORTS = {"http": 80, "https": 443}
ALIAS_TYPES = frozenset({"A", "AAAA"})

# hostname -> public port -> "host:port" where the local listener serves it
DnsMap = dict[str, dict[int, str]]

log = logging.getLogger(__name__)

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


# --------------------------------------------------------------------------------------------------
# The pure part


def normalize_name(name: str) -> str:
    """A DNS name as compared here: Route53's octal escapes decoded, lower case, no trailing dot."""
    decoded = _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name or "")
    return decoded.strip().rstrip(".").lower()


def _alias_target_name(name: str) -> str:
    """An ALB alias target as compared here (Route53 and the console often add ``dualstack.``)."""
    normalized = normalize_name(name)
    return normalized.removeprefix("dualstack.")


def _local_address(listener: Mapping[str, Any]) -> str:
    """Where a listener serves, as host:port: its bind address, loopback when it binds every address."""
    port = int(listener["local_port"])
    host = urlsplit(str(listener.get("local_url") or "")).hostname or "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"{host}:{port}"
    if ip.is_unspecified:
        ip = ipaddress.ip_address("127.0.0.1" if ip.version == 4 else "::1")
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def dns_map(
    route53_records: Iterable[Mapping[str, Any]],
    load_balancers: Iterable[Mapping[str, Any]],
    listeners: Iterable[Mapping[str, Any]],
) -> DnsMap:
    """Hostname -> {public port: "127.0.0.1:<local port>"} for every name that resolves to a served ALB.

    route53_records: ``ResourceRecordSet`` dicts as ``list_resource_record_sets`` returns them (of the
        zones the caller considers visible, i.e. public ones).
    load_balancers: ``describe_load_balancers()["LoadBalancers"]`` (``LoadBalancerArn``, ``DNSName``).
    listeners: ``AlbDataPlane.listeners()`` (``load_balancer_arn``, ``port``, ``local_port``, ``local_url``).

    A load balancer without a served listener maps nothing. When several records or load balancers give
    the same name and port, the first one (in input order) wins.
    """
    served: dict[str, dict[int, str]] = {}
    for item in listeners:
        served.setdefault(str(item["load_balancer_arn"]), {}).setdefault(int(item["port"]), _local_address(item))
    by_dns: dict[str, dict[int, str]] = {}
    for lb in load_balancers:
        ports = served.get(str(lb.get("LoadBalancerArn", "")))
        name = _alias_target_name(str(lb.get("DNSName", "")))
        if ports and name:
            entry = by_dns.setdefault(name, {})
            for port, address in ports.items():
                entry.setdefault(port, address)

    result: DnsMap = {}

    def add(hostname: str, ports: Mapping[int, str]) -> None:
        entry = result.setdefault(hostname, {})
        for port, address in ports.items():
            entry.setdefault(port, address)

    for record in route53_records:
        name = normalize_name(str(record.get("Name", "")))
        kind = str(record.get("Type", "")).upper()
        if not name:
            continue
        alias = record.get("AliasTarget")
        if kind in ALIAS_TYPES and isinstance(alias, Mapping):
            ports = by_dns.get(_alias_target_name(str(alias.get("DNSName", ""))))
            if ports:
                add(name, ports)
        elif kind == "CNAME":
            values = [str(v.get("Value", "")) for v in record.get("ResourceRecords") or []]
            for value in values[:1]:
                ports = by_dns.get(_alias_target_name(value))
                if ports:
                    add(name, ports)
    for name, ports in by_dns.items():
        add(name, ports)
    return {host: dict(sorted(ports.items())) for host, ports in sorted(result.items())}


def lookup(mapping: Mapping[str, Mapping[int, str]], hostname: str, port: int) -> str | None:
    """The local "host:port" serving `hostname`:`port`, or None (then plain DNS applies).

    An exact name wins over a wildcard; of the wildcards the most specific (longest) one wins, and
    like Route53's a wildcard matches names any number of labels deeper.
    """
    name = normalize_name(hostname)
    if not name:
        return None
    candidates = [name]
    labels = name.split(".")
    candidates += ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]
    for candidate in candidates:
        ports = mapping.get(candidate)
        if ports is not None:
            return ports.get(port)  # the most specific name decides, even if it lacks the port
    return None


@dataclass(frozen=True)
class Route:
    """Where to send a request for a public URL: the local URL, and the name to present and verify."""

    url: str  # the original URL with host:port replaced by the local listener (userinfo, path, query kept)
    host_header: str  # the original authority, as the Host header (port only when not the scheme's default)
    server_name: str  # the original hostname: TLS SNI and the name the certificate must carry
    address: str  # "127.0.0.1:50123"


def resolve_url(mapping: Mapping[str, Mapping[int, str]], url: str) -> Route | None:
    """Route `url` through `mapping`, or None when its host:port is not in it (or it is not http/https)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    address = lookup(mapping, parts.hostname, port)
    if address is None:
        return None
    hostinfo = parts.netloc.rpartition("@")[2]
    userinfo = parts.netloc[: len(parts.netloc) - len(hostinfo)]
    host_header = parts.hostname if port == DEFAULT_PORTS[scheme] else f"{parts.hostname}:{port}"
    local = parts._replace(netloc=userinfo + address)
    return Route(url=local.geturl(), host_header=host_header, server_name=parts.hostname, address=address)


# --------------------------------------------------------------------------------------------------
# The truth file


def write_dns_truth(path: Path | str, mapping: Mapping[str, Mapping[int, str]]) -> None:
    """Write the map as a DnsTruth file atomically (a reader sees the old or the new file, never half of one)."""
    write_truth(path, DnsTruth(hosts={host: dict(ports) for host, ports in mapping.items()}))


class DnsTruthReader:
    """The map in the file named by ``$HARNESS_DNS_TRUTH`` (`env_var`), re-read only when the file changes.

    ``read()`` gives {} when the variable is unset, the file is missing or unreadable (plain DNS then).
    The variable is looked up on every call. Thread-safe.
    """

    def __init__(self, env_var: str = DNS_TRUTH_ENV) -> None:
        self.env_var = env_var
        self._truth = TruthReader(env_var, DnsTruth)
        self._lock = threading.Lock()
        self._source: DnsTruth | None = None
        self._map: DnsMap = {}

    def read(self) -> DnsMap:
        truth = self._truth.read()  # the same object until the file changes
        with self._lock:
            if truth is not self._source:
                hosts = truth.hosts if truth is not None else {}
                self._map = {normalize_name(host): dict(ports) for host, ports in hosts.items()}
                self._source = truth
            return self._map


# --------------------------------------------------------------------------------------------------
# Reading it from the emulator and the data plane


def _public_zone_records(route53: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page.get("HostedZones", []):
            if (zone.get("Config") or {}).get("PrivateZone"):
                continue
            for record_page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"]):
                records.extend(record_page.get("ResourceRecordSets", []))
    return records


def read_dns_map(route53: Any, elbv2: Any, alb: AlbDataPlane) -> DnsMap:
    """`dns_map` of the emulator's public Route53 zones and load balancers and the data plane's listeners.

    route53, elbv2: boto3 clients pointed at the emulator (e.g. ``AwsClients.client("route53")``).
    """
    load_balancers: list[dict[str, Any]] = []
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        load_balancers.extend(page.get("LoadBalancers", []))
    return dns_map(_public_zone_records(route53), load_balancers, alb.listeners())


class DnsTruthPublisher:
    """Keeps the DNS truth file current from the runtime daemon's publish loop.

    ``publish()`` re-reads Route53 and the load balancers at most every `min_interval` seconds (``force``
    skips the wait) and rewrites the file only when the map changed. Returns the current map.
    As a lifecycle component (`harness.core.lifecycle`), starting publishes at once.
    """

    name = "dns"

    def __init__(self, route53: Any, elbv2: Any, alb: AlbDataPlane, path: Path | str,
                 min_interval: float = 5.0) -> None:
        self.route53 = route53
        self.elbv2 = elbv2
        self.alb = alb
        self.path = Path(path)
        self.min_interval = min_interval
        self._last_read = float("-inf")
        self._written: DnsMap | None = None

    def publish(self, force: bool = False) -> DnsMap:
        if not force and self._written is not None and time.monotonic() - self._last_read < self.min_interval:
            return self._written
        mapping = read_dns_map(self.route53, self.elbv2, self.alb)
        self._last_read = time.monotonic()
        if mapping != self._written or not self.path.exists():
            write_dns_truth(self.path, mapping)
            if mapping != self._written:
                log.info("DNS as the local cloud sees it: %s", {h: p for h, p in mapping.items()})
            self._written = mapping
        return mapping

    def start(self) -> None:
        self.publish(force=True)

    def wait_ready(self, timeout: float) -> None:
        """Ready once started: the snapshot file is written."""

    def stop(self) -> None:
        """The snapshot file stays: the emulator keeps routing to the last known listeners."""


# --------------------------------------------------------------------------------------------------
# The CA that SNS delivery trusts for mapped endpoints


def alb_ca_bundle(run_dir: Path) -> Path:
    """The ALB data plane's CA certificate for a run directory (``AlbDataPlane(state_dir=RunDir.alb_dir)``)."""
    from harness.core.ca import LocalCA

    return LocalCA(RunDir(run_dir).alb_tls_dir).cert_path


def ensure_alb_ca(run_dir: Path) -> Path:
    """Create (or load) the ALB's CA now, before the data plane starts, and return its certificate path.

    ``LocalCA`` reuses a valid CA persisted in its directory, so the ALB data plane started later in the
    same run directory issues its listener certificates from this very CA: the path can be handed to the
    emulator (``HARNESS_CA_BUNDLE``) before the ALB exists.
    """
    from harness.core.ca import LocalCA

    return LocalCA(RunDir(run_dir).alb_tls_dir).ensure().cert_path
