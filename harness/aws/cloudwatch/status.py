"""`harness status` rows for the CloudWatch emulation, from its report in runtime.json."""

from __future__ import annotations

from collections import Counter

from harness.core.rundir import CloudWatchInfo


def status_rows(report: CloudWatchInfo | None) -> list[tuple[str, str]]:
    """(label, value) rows: the scaled period, alarm states, alarms not OK, errors and notes."""
    if report is None:
        return []
    counts = Counter(str(a.get("state")) for a in report.alarms.values())
    states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none evaluated yet"
    rows = [(
        "CloudWatch",
        f"a 60 s period lasts {report.period_60_seconds:g} s; alarms: {states}; "
        f"{report.notifications} notifications sent" + ("" if report.running else " (NOT RUNNING)"),
    )]
    for name, alarm in sorted(report.alarms.items()):
        if alarm.get("state") != "OK":
            rows.append((f"alarm {name}", f"{alarm.get('state')}: {alarm.get('reason', '')}"))
    for source, error in sorted(report.errors.items()):
        rows.append((f"CloudWatch {source}", f"error: {error}"))
    for note in report.notes:
        rows.append(("CloudWatch note", note))
    for action in report.actions_not_performed:
        rows.append(("CloudWatch action not performed", action))
    return rows
