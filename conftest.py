"""Root pytest configuration: every test session proves it left no harness process behind."""

from __future__ import annotations

import pytest

from harness.core.reaper import all_harness_processes
from harness.testing.plugin import KEPT_RUN_DIRS

pytest_plugins = ["harness.testing.plugin"]  # also a pytest11 entry point of the same name: registered once
_BEFORE: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _BEFORE.update(all_harness_processes())


@pytest.hookimpl(trylast=True)  # after the harness plugin stopped the stack it booted
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # under xdist the controller checks once everything has finished
    kept = session.config.stash.get(KEPT_RUN_DIRS, set())
    leaked = {
        run: procs for run, procs in all_harness_processes().items() if run not in _BEFORE and run not in kept
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
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
