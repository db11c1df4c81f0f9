"""Errors that name the problem and the fix."""

from __future__ import annotations


class HarnessError(Exception):
    """A failure the user can act on: `problem` says what went wrong, `fix` what to do about it."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}: {fix}" if fix else problem)


class MissingBinaryError(HarnessError):
    """A program the harness needs is not installed or not on PATH."""


class PortInUseError(HarnessError):
    """A port the user asked for is already taken."""


class ReadinessTimeoutError(HarnessError):
    """A component did not become ready in time."""
