"""Scenario-suite configuration: the `own_stack` marker.

`@pytest.mark.own_stack` marks a scenario that changes settings every other scenario shares (a queue's
visibility timeout, ...) for its duration. Such a scenario must not overlap any other one:

- it is moved to the end of the run (after every other scenario of the same session);
- every scenario holds a lock on `<run dir>/scenarios.lock` while it runs (setup, call, teardown):
  a shared lock normally, an exclusive one when marked `own_stack`. Under pytest-xdist the workers
  share one stack, so the lock is what keeps an `own_stack` scenario on one worker from running while
  another worker's scenario runs; it waits for the running ones to finish, and they wait for it.

A scenario marked `own_stack` must restore what it changed in a `finally`, so the stack it leaves is
the stack it found.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator

import pytest

from harness.core.config import HarnessSettings

OWN_STACK = "own_stack"
LOCK_NAME = "scenarios.lock"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OWN_STACK}: changes settings other scenarios share; runs last and alone (exclusive scenario lock)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort keeps the order identical on every xdist worker (xdist checks it).
    items.sort(key=lambda item: item.get_closest_marker(OWN_STACK) is not None)


@pytest.fixture(autouse=True)
def _scenario_lock(request: pytest.FixtureRequest, harness_settings: HarnessSettings) -> Iterator[None]:
    exclusive = request.node.get_closest_marker(OWN_STACK) is not None
    path = harness_settings.run_path / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
