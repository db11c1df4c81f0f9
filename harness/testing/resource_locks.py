"""Shared and exclusive locks on named resources, taken all or none: what keeps scenarios that would interfere
from running at the same time, across the processes (xdist workers) that share one stack.

    with holding(run_dir / "scenario-locks", [("api-service", True), ("database", False)]) as locks:
        ...                                   # api-service exclusively, database shared with other holders
        locks.share("api-service")            # put back: from now on shared, others may use it too

Each resource is a file `<directory>/<resource>.lock` with a POSIX record lock (`fcntl.lockf`), so turning
an exclusive lock into a shared one is atomic: no one gets in between. The locks are taken in the order
given (sorted by name, say, the same for everyone), without waiting: when one is busy, every lock already
taken is let go, the caller waits until that one is free, and starts over. So a caller never sits on a lock
while it waits for another: no deadlock, and what it does not hold yet stays free for others meanwhile.

POSIX record locks belong to a process: one holder at a time per process (a test session's worker runs one
scenario at a time), and the locks go with the process when it dies.
"""

from __future__ import annotations

import errno
import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_BUSY = (errno.EACCES, errno.EAGAIN)


def _lock(handle: IO[str], exclusive: bool, wait: bool) -> bool:
    try:
        fcntl.lockf(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        raise
    return True


class ResourceLocks:
    """The locks one holder has taken (see `holding`)."""

    def __init__(self, directory: Path, locks: Sequence[tuple[str, bool]]) -> None:
        self.directory, self.locks = directory, list(locks)
        self.exclusive = {resource for resource, exclusive in self.locks if exclusive}
        self._handles: dict[str, IO[str]] = {}

    def acquire(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # read and write: an exclusive POSIX lock needs a file open for writing, a shared one for reading
        self._handles = {resource: (self.directory / f"{resource}.lock").open("a+") for resource, _ in self.locks}
        while True:
            taken = 0
            for resource, exclusive in self.locks:
                if not _lock(self._handles[resource], exclusive, wait=False):
                    break
                taken += 1
            if taken == len(self.locks):
                return
            for resource, _ in self.locks[:taken]:
                fcntl.lockf(self._handles[resource], fcntl.LOCK_UN)
            busy, exclusive = self.locks[taken]
            _lock(self._handles[busy], exclusive, wait=True)  # until it is free, then start over
            fcntl.lockf(self._handles[busy], fcntl.LOCK_UN)

    def share(self, *resources: str) -> None:
        """Hold these resources, held exclusively so far, shared from now on (atomically)."""
        for resource in resources:
            if resource not in self.exclusive:
                raise ValueError(f"{resource!r} is not held exclusively (exclusive: {sorted(self.exclusive)})")
        for resource in resources:
            fcntl.lockf(self._handles[resource], fcntl.LOCK_SH)
            self.exclusive.discard(resource)

    def release(self) -> None:
        for handle in self._handles.values():
            handle.close()  # releases its lock
        self._handles = {}


@contextmanager
def holding(directory: Path, locks: Sequence[tuple[str, bool]]) -> Iterator[ResourceLocks]:
    """Hold every lock of `locks` ((resource, exclusive) pairs, taken in that order) for the block; released
    when it ends, whatever happens."""
    held = ResourceLocks(directory, locks)
    held.acquire()
    try:
        yield held
    finally:
        held.release()
