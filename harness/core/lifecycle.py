"""The one lifecycle every data-plane component follows, and the order the daemon runs them in.

A `Component` starts (returns once its work is under way), waits until it is ready (serving, or
whatever "ready" means for it; `ReadinessTimeoutError` if not within the timeout) and stops
(idempotent, releases everything it started). `Components` starts a list of them in order and stops
the started ones in reverse, also when a later one fails to start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Component(Protocol):
    name: str

    def start(self) -> object: ...
    def wait_ready(self, timeout: float) -> None: ...
    def stop(self) -> None: ...


class Components:
    """Components started in order (each ready before the next starts), stopped in reverse."""

    def __init__(self, components: Iterable[Component], ready_timeouts: dict[str, float] | None = None) -> None:
        self.components = list(components)
        self.ready_timeouts = dict(ready_timeouts or {})
        self._started: list[Component] = []

    def start(self, default_timeout: float = 30.0, on_ready: Callable[[Component], None] | None = None) -> None:
        """Start each component and wait until it is ready before the next; `on_ready` after each."""
        for component in self.components:
            log.info("starting %s", component.name)
            self._started.append(component)
            component.start()
            component.wait_ready(self.ready_timeouts.get(component.name, default_timeout))
            if on_ready is not None:
                on_ready(component)

    def stop(self) -> None:
        """Stop what was started, last first; one failing to stop does not keep the others running."""
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception:
                log.exception("stopping %s failed", component.name)


class Readiness:
    """A point in the start order that only waits for a condition (e.g. "the services serve")."""

    def __init__(self, name: str, wait: Callable[[float], None]) -> None:
        self.name = name
        self._wait = wait

    def start(self) -> None:
        """Nothing to start: the components before it do the work."""

    def wait_ready(self, timeout: float) -> None:
        self._wait(timeout)

    def stop(self) -> None:
        """Nothing to stop."""
