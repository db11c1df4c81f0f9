"""`harness status` rows for the CloudWatch emulation, from the snapshot the runtime publishes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any


def status_rows(snapshot: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) rows: the scaled period, alarm states, alarms not OK, errors and notes."""
    if not snapshot:
        return []
    alarms: Mapping[str, Mapping[str, Any]] = snapshot.get("alarms") or {}
    counts = Counter(str(a.get("state")) for a in alarms.values())
    states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none evaluated yet"
    rows = [(
        "CloudWatch",
        f"a 60 s period lasts {float(snapshot.get('period_60_seconds') or 60):g} s; alarms: {states}; "
        f"{snapshot.get('notifications', 0)} notifications sent"
        + ("" if snapshot.get("running", True) else " (NOT RUNNING)"),
    )]
    for name, alarm in sorted(alarms.items()):
        if alarm.get("state") != "OK":
            rows.append((f"alarm {name}", f"{alarm.get('state')}: {alarm.get('reason', '')}"))
    for source, error in sorted((snapshot.get("errors") or {}).items()):
        rows.append((f"CloudWatch {source}", f"error: {error}"))
    for note in snapshot.get("notes") or []:
        rows.append(("CloudWatch note", str(note)))
    for action in snapshot.get("actions_not_performed") or []:
        rows.append(("CloudWatch action not performed", str(action)))
    return rows
