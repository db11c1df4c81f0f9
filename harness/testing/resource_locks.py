"""Shared and exclusive locks on named resources, taken all or none: what keeps scenarios that would interfere
from running at the same time, across the processes (xdist workers) that share one stack.

    with holding(run_dir / "scenario-locks", [("api-service", True), ("database", False)]):
        ...                                   # api-service exclusively, database shared with other holders

Each resource is a file `<directory>/<resource>.lock` locked with flock(2). The locks are taken in the order
given (sorted by name, say, the same for everyone), without waiting: when one is busy, every lock already
taken is let go, the caller waits until that one is free, and starts over. So a caller never sits on a lock
while it waits for another: no deadlock, and what it does not hold yet stays free for others meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO


def _lock(handle: IO[str], exclusive: bool, wait: bool) -> bool:
    try:
        fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def holding(directory: Path, locks: Sequence[tuple[str, bool]]) -> Iterator[None]:
    """Hold every lock of `locks` ((resource, exclusive) pairs, taken in that order) for the block; released
    when it ends, whatever happens."""
    directory.mkdir(parents=True, exist_ok=True)
    handles = {resource: (directory / f"{resource}.lock").open("a") for resource, _ in locks}
    try:
        while True:
            taken = 0
            for resource, exclusive in locks:
                if not _lock(handles[resource], exclusive, wait=False):
                    break
                taken += 1
            if taken == len(locks):
                break
            for resource, _ in locks[:taken]:
                fcntl.flock(handles[resource], fcntl.LOCK_UN)
            busy, exclusive = locks[taken]
            _lock(handles[busy], exclusive, wait=True)  # until it is free, then start over
            fcntl.flock(handles[busy], fcntl.LOCK_UN)
        yield
    finally:
        for handle in handles.values():
            handle.close()  # releases its lock
