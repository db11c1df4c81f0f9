"""Scenario-suite configuration: what each scenario depends on and what it disturbs, and the locks that keep
scenarios that would interfere from running at the same time.

The scenarios share one stack (also under `pytest -n 2`: the xdist workers attach to the same run
directory). Most only use it; some change, for a while, a part others rely on: they stop the worker, hang
the API fleet, lower the inbound queue's visibility timeout, fill the DLQ... Each scenario declares both,
by the names in `RESOURCES`:

    @pytest.mark.depends_on("api-service", "database")   # needs these as the Terraform made them
    @pytest.mark.disturbs("api-service")                 # changes this (and puts it back) while it runs

Markers add up (module `pytestmark`, class, function); a scenario disturbs the union of its `disturbs` and
depends on the union of its `depends_on`. Every scenario declares at least one of the two
(`@pytest.mark.depends_on()` for one that needs nothing any scenario disturbs); an undeclared scenario or
an unknown name is a collection error.

A scenario that disturbs something only at its start, then waits with it put back (an alarm scenario: a
burst of errors, then minutes of watching the alarm), says so, and says when it has put it back:

    @pytest.mark.disturbs("api-service", "database", briefly=True)
    def test_...(scenario_locks, ...):
        ...                                                # disturb, restore
        scenario_locks.share("api-service", "database")   # from now on: depends on them

A scenario that declares `briefly` and passes without sharing is an error, and only what it declared
`briefly` may be shared.

While a scenario runs (setup, call and teardown, hence the `ecs` fixture's restore too) it holds, on
`<run dir>/scenario-locks/<resource>.lock`, an exclusive lock on every resource it disturbs and a shared
lock on every other resource it depends on (`scenario_locks.share` turns the first into the second). So a
scenario that disturbs a resource runs alone with respect to it: it waits for the scenarios using it to
finish, and they wait for it; scenarios that touch different resources run side by side under xdist. The
locks are taken in sorted name order, all or none (`harness.testing.resource_locks`): a scenario never sits
on a lock while it waits for another.

Order (locks make any order correct; this one keeps both xdist workers busy): the scenarios that disturb
something run first. The resource the most scenarios disturb is the bottleneck: its disturbers come first,
to run back to back from the start, those that disturb it briefly last among them (once they share it,
the scenarios that need it can run); then the disturbers that do not touch it, which can run beside them;
then those that need it. The scenarios that disturb nothing come last. Within each group, those that need
fewer resources first, then the order of collection.

Declaring is a promise, both ways:
- depend on everything the scenario's assertions need working as usual: a scenario that sends mail end to
  end depends on the worker service, the inbound queue, the API and the database, even if it only reads
  one of them; a scenario that sends mail at all depends on the worker and the inbound queue (its
  messages land there and must be consumed as usual);
- a scenario that disturbs a resource puts it back in a `finally` or a fixture's teardown, so that the
  stack it leaves is the stack it found: the API fleet back at its desired count with every target healthy,
  the worker running its original task definition with no long poll of a stopped task left open, queue
  settings restored and in force (`harness.testing.queue_worker`), the DLQ empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings
from harness.testing.resource_locks import ResourceLocks, holding

DISTURBS = "disturbs"
DEPENDS_ON = "depends_on"
LOCK_DIR = "scenario-locks"
HERE = Path(__file__).resolve().parent

RESOURCES = {
    "api-service": "the API ECS service: its tasks serving through the ALB, every target healthy",
    "worker-service": "the worker ECS service: running its task definition's settings, consuming the inbound queue",
    "database": "the platform's PostgreSQL database and its user's privileges",
    "inbound-queue": "the inbound SQS queue: its settings (visibility timeout, policy) and what is in it",
    "inbound-dlq": "the inbound queue's dead-letter queue: empty",
}


def pytest_configure(config: pytest.Config) -> None:
    names = ", ".join(sorted(RESOURCES))
    config.addinivalue_line(
        "markers", f"{DISTURBS}(*resources): changes these shared resources while it runs ({names}); exclusive lock")
    config.addinivalue_line(
        "markers", f"{DEPENDS_ON}(*resources): needs these shared resources undisturbed ({names}); shared lock")


def declared(item: pytest.Item, name: str) -> set[str]:
    return {str(resource) for marker in item.iter_markers(name) for resource in marker.args}


def brief(item: pytest.Item) -> set[str]:
    """What the scenario disturbs only for a while (`disturbs(..., briefly=True)`), then shares."""
    return {str(resource) for marker in item.iter_markers(DISTURBS) if marker.kwargs.get("briefly")
            for resource in marker.args}


def locks_of(item: pytest.Item) -> list[tuple[str, bool]]:
    """(resource, exclusive) in the order they are taken: sorted by name."""
    disturbs = declared(item, DISTURBS)
    return [(resource, resource in disturbs) for resource in sorted(disturbs | declared(item, DEPENDS_ON))]


def _is_scenario(item: pytest.Item) -> bool:
    return HERE in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    for item in filter(_is_scenario, items):
        if not any(item.iter_markers(DISTURBS)) and not any(item.iter_markers(DEPENDS_ON)):
            problems.append(f"{item.nodeid}: declares neither @pytest.mark.{DEPENDS_ON}(...) nor "
                            f"@pytest.mark.{DISTURBS}(...) (see scenarios/conftest.py)")
        unknown = (declared(item, DISTURBS) | declared(item, DEPENDS_ON)) - set(RESOURCES)
        if unknown:
            problems.append(f"{item.nodeid}: unknown resource(s) {sorted(unknown)}; known: {sorted(RESOURCES)}")
    if problems:
        raise pytest.UsageError("scenario declarations:\n  " + "\n  ".join(problems))
    # Only the scenarios move, among the places they hold; a stable sort keeps the order identical on every
    # xdist worker (xdist checks it).
    places = [index for index, item in enumerate(items) if _is_scenario(item)]
    scenarios = [items[index] for index in places]
    key = run_order(bottleneck(scenarios))
    for index, item in zip(places, sorted(scenarios, key=key), strict=True):
        items[index] = item


def bottleneck(scenarios: list[pytest.Item]) -> str | None:
    """The resource the most scenarios disturb (ties: the one the most depend on), if any is disturbed."""
    disturbed = Counter(resource for item in scenarios for resource in declared(item, DISTURBS))
    needed = Counter(resource for item in scenarios for resource in declared(item, DEPENDS_ON))
    return max(disturbed, key=lambda resource: (disturbed[resource], needed[resource]), default=None)


def run_order(bottleneck: str | None) -> Callable[[pytest.Item], tuple[int, int]]:
    def key(item: pytest.Item) -> tuple[int, int]:
        disturbs, depends = declared(item, DISTURBS), declared(item, DEPENDS_ON)
        if not disturbs:
            group = 4
        elif bottleneck in disturbs:
            group = 1 if bottleneck in brief(item) else 0
        else:
            group = 3 if bottleneck in depends else 2
        return group, len(disturbs | depends)

    return key


class ScenarioLocks:
    """What a scenario holds; `share` what it disturbed `briefly` once it has put it back."""

    def __init__(self, locks: ResourceLocks, brief: set[str]) -> None:
        self._locks, self.brief = locks, brief

    def share(self, *resources: str) -> None:
        undeclared = set(resources) - self.brief
        if undeclared:
            raise ValueError(f"{sorted(undeclared)}: not declared @pytest.mark.{DISTURBS}(..., briefly=True)")
        self._locks.share(*resources)

    @property
    def exclusive(self) -> set[str]:
        return set(self._locks.exclusive)


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed


@pytest.fixture(autouse=True)
def scenario_locks(request: pytest.FixtureRequest, harness_settings: HarnessSettings) -> Iterator[ScenarioLocks]:
    """The scenario's locks, held from its setup to its teardown (see the module's docstring)."""
    node = request.node
    with holding(harness_settings.run_path / LOCK_DIR, locks_of(node)) as locks:
        held = ScenarioLocks(locks, brief(node))
        yield held
        unshared = held.brief & held.exclusive
        if unshared and node.stash.get(_CALL_PASSED, False):
            pytest.fail(f"{node.nodeid} disturbs {sorted(unshared)} briefly=True but never shared them: call "
                        "scenario_locks.share(...) once they are put back, or drop briefly=True", pytrace=False)
