"""Which backend answers which service: a default endpoint and per-service overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.gateway.faults import canonical_service


@dataclass
class RouteTable:
    default: str
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.default = self.default.rstrip("/")
        self.overrides = {canonical_service(k): v.rstrip("/") for k, v in self.overrides.items()}

    def backend(self, service: str) -> str:
        return self.overrides.get(service, self.default)

    def set(self, service: str, url: str) -> None:
        self.overrides[canonical_service(service)] = url.rstrip("/")

    def describe(self) -> dict[str, object]:
        return {"default": self.default, "routes": dict(self.overrides)}


def parse_routes(specs: list[str]) -> Mapping[str, str]:
    """`service=URL` pairs from the command line."""
    routes = {}
    for spec in specs:
        service, sep, url = spec.partition("=")
        if not sep or not service or not url.startswith(("http://", "https://")):
            raise ValueError(f"--route {spec!r}: expected service=http://host:port")
        routes[service] = url
    return routes
