"""Root pytest configuration: every test session proves it left no harness process behind.

Only this session's processes count (they carry its session id): another session on the same machine
(a second CI job, a colleague's stack) is not this session's leak.
"""

from __future__ import annotations

import pytest

from harness.core.reaper import all_harness_processes
from harness.testing.plugin import KEPT_RUN_DIRS, SESSION_ID

pytest_plugins = ["harness.testing.plugin"]  # also a pytest11 entry point of the same name: registered once
# A leak fails a session that would otherwise pass; it never hides an interruption (Ctrl-C) or an error.
_OVERRIDABLE = {pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED}


@pytest.hookimpl(trylast=True)  # after the harness plugin stopped the stack it booted
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # under xdist the controller checks once everything has finished
    kept = session.config.stash.get(KEPT_RUN_DIRS, set())
    leaked = {
        run: procs
        for run, procs in all_harness_processes(session=session.config.stash[SESSION_ID]).items()
        if run not in kept
    }
    if not leaked:
        return
    lines = [
        f"  {run}: " + ", ".join(f"{p.pid} {' '.join(p.cmdline()[:3])}" for p in procs)
        for run, procs in leaked.items()
    ]
    session.config.get_terminal_writer().line(
        "harness processes left running after the tests (a leak):\n" + "\n".join(lines), red=True
    )
    if session.exitstatus in _OVERRIDABLE:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
