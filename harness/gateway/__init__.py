"""An AWS gateway: one local endpoint in front of the emulator(s) that routes each call to a backend by
service, logs every call (service, operation, status, latency, caller) and injects AWS-shaped faults.

Modules: `classify` (what a request is), `routing` (where it goes), `errors` (AWS error responses per
protocol), `faults` (rules and the seeded choice), `calllog` (the JSON-lines log), `app` (the ASGI proxy
and the control API under `/_gateway/`), `process` (start/stop it as a harness process), `__main__` (CLI).
"""

from __future__ import annotations

CONTROL_PREFIX = "/_gateway"
READY_PATH = CONTROL_PREFIX + "/ready"
