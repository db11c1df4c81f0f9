"""Phase timing and progress for long steps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Protocol

from rich.console import Console
from rich.markup import escape


class Reporter(Protocol):
    timings: dict[str, float]

    def phase(self, name: str) -> contextlib.AbstractContextManager[None]: ...
    def detail(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...


class QuietReporter:
    """Records how long each phase took; prints nothing (tests, benchmarks)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - started

    def detail(self, text: str) -> None:
        """Quiet."""

    def note(self, text: str) -> None:
        """Something the user should know that did not stop the work (kept in `notes`)."""
        self.notes.append(text)


class ConsoleReporter(QuietReporter):
    """A spinner with the phase name and elapsed time, then one line per finished phase."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self._status: object | None = None
        self._current = ""

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self._current = name
        with self.console.status(f"[bold]{name}[/]…") as status:
            self._status = status
            try:
                yield
            except BaseException:
                self.console.print(f"[red]✗[/] {name} failed after {time.monotonic() - started:.1f}s")
                raise
            finally:
                self._status = None
        elapsed = time.monotonic() - started
        self.timings[name] = elapsed
        self.console.print(f"[green]✓[/] {name} [dim]{elapsed:.1f}s[/]")

    def detail(self, text: str) -> None:
        status = self._status
        if status is not None and text.strip():
            status.update(f"[bold]{self._current}[/]… [dim]{text.strip()[:100]}[/]")  # type: ignore[attr-defined]

    def note(self, text: str) -> None:
        super().note(text)
        self.console.print(f"[yellow]![/] {escape(text)}", soft_wrap=True)
