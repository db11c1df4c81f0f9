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


class StateFileError(HarnessError):
    """The run directory's state file exists but cannot be used; `found` says what is there instead."""

    def __init__(self, path: str, found: str, fix: str) -> None:
        self.path = path
        self.found = found
        super().__init__(f"state file unreadable: {path}: {found}", fix)


class NewerStateFileError(StateFileError):
    """The state file was written by a newer harness, whose fields this one does not know."""

    def __init__(self, path: str, version: str, unknown: list[str], fix: str) -> None:
        self.version = version
        self.unknown = unknown
        super().__init__(path, f"written by a newer harness (version {version}; unknown to this one: "
                               f"{', '.join(unknown)})", fix)


class SettingsError(HarnessError):
    """Settings (HARNESS_* variables or CLI flags) that cannot be used: one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
