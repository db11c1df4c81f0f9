"""Point a task's database settings at the real local PostgreSQL instead of the emulated RDS endpoint.

The emulator hands out RDS endpoints (`db.xxxx.us-east-1.rds.amazonaws.com:5432`) that nothing
serves; `harness.aws.rds.binding.RdsBinding` knows where the real cluster listens. The rule,
applied to the task's final environment (after secrets are resolved), knows no variable name:

1. host: a value equal to a binding's emulated host becomes its real host; an occurrence of
   `<emulated host>:<emulated port>` anywhere in a value (`host:port`, URLs, DSNs) becomes
   `<host>:<port>`;
2. port: only when some value was rewritten in step 1 (a task that never names the database keeps
   its ports), a variable whose name ends with `PORT` and whose value equals that binding's emulated
   port becomes the real port. With several bindings, the one whose host variable shares the name
   prefix wins (`DB_HOST` pairs with `DB_PORT`, `REPLICA_HOST` with `REPLICA_PORT`); otherwise
   the rewrite happens only if every candidate binding maps to the same real port.

A bare emulated host inside a longer value without its port (`postgres://u@host/db`) is not
rewritten: the default port would be wrong either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.aws.rds.binding import RdsBinding

log = logging.getLogger(__name__)


@dataclass
class RewriteResult:
    env: dict[str, str]
    rewritten: dict[str, str] = field(default_factory=dict)  # name -> the binding identifier used

    def __bool__(self) -> bool:
        return bool(self.rewritten)


def _prefix(name: str, suffix: str) -> str | None:
    upper = name.upper()
    return name[: -len(suffix)] if upper.endswith(suffix) else None


def rewrite_rds_endpoints(env: Mapping[str, str], bindings: Sequence[RdsBinding]) -> RewriteResult:
    result = RewriteResult(env=dict(env))
    usable = [b for b in bindings if b.emulated_host]
    host_matches: list[tuple[str, RdsBinding]] = []
    for name, value in env.items():
        for binding in usable:
            emulated = f"{binding.emulated_host}:{binding.emulated_port}"
            if value == binding.emulated_host:
                result.env[name] = binding.host
            elif emulated in value:
                result.env[name] = value.replace(emulated, f"{binding.host}:{binding.port}")
            else:
                continue
            result.rewritten[name] = binding.identifier
            host_matches.append((name, binding))
            break
    if not host_matches:
        return result
    for name, value in env.items():
        port_prefix = _prefix(name, "PORT")
        if port_prefix is None or name in result.rewritten:
            continue
        candidates = [(host_var, b) for host_var, b in host_matches if str(b.emulated_port) == value.strip()]
        if not candidates:
            continue
        paired = [b for host_var, b in candidates if _prefix(host_var, "HOST") == port_prefix]
        real_ports = {b.port for b in (paired or [b for _, b in candidates])}
        if len(real_ports) != 1:
            log.warning("%s=%s matches the emulated port of several RDS instances with different real ports;"
                        " left unchanged (name it <PREFIX>PORT next to <PREFIX>HOST to pair them)", name, value)
            continue
        binding = (paired or [b for _, b in candidates])[0]
        result.env[name] = str(binding.port)
        result.rewritten[name] = binding.identifier
    return result
