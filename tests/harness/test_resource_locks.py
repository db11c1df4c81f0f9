"""Resource locks: shared ones coexist, an exclusive one excludes, an exclusive one can become shared, and a
set is taken all or none. POSIX record locks belong to a process, so every other holder here is one."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from harness.testing.resource_locks import holding

PROBE = """
import fcntl, sys
with open(sys.argv[1], "a+") as handle:
    try:
        fcntl.lockf(handle, (fcntl.LOCK_EX if sys.argv[2] == "exclusive" else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError:
        sys.exit(1)
"""


def free(directory: Path, resource: str, exclusive: bool) -> bool:
    """Could another process take this lock right now?"""
    mode = "exclusive" if exclusive else "shared"
    return subprocess.run([sys.executable, "-c", PROBE, str(directory / f"{resource}.lock"), mode]).returncode == 0


def test_shared_locks_coexist_and_an_exclusive_one_excludes_everyone(tmp_path: Path) -> None:
    with holding(tmp_path, [("database", False)]):
        assert free(tmp_path, "database", exclusive=False)
        assert not free(tmp_path, "database", exclusive=True)
    with holding(tmp_path, [("api-service", True)]):
        assert not free(tmp_path, "api-service", exclusive=False)
        assert free(tmp_path, "database", exclusive=True)
    assert free(tmp_path, "api-service", exclusive=True)  # released when the block ends


def test_an_exclusive_lock_becomes_shared(tmp_path: Path) -> None:
    with holding(tmp_path, [("api-service", True), ("database", True), ("inbound-queue", False)]) as locks:
        locks.share("api-service")
        assert free(tmp_path, "api-service", exclusive=False) and not free(tmp_path, "api-service", exclusive=True)
        assert not free(tmp_path, "database", exclusive=False)  # the other one still exclusive
        with pytest.raises(ValueError, match="'inbound-queue' is not held exclusively"):
            locks.share("inbound-queue")
    assert free(tmp_path, "api-service", exclusive=True)


def _hold(directory: Path, locks: list[tuple[str, bool]], acquired: multiprocessing.synchronize.Event) -> None:
    with holding(directory, locks):
        acquired.set()


def test_a_set_is_taken_all_or_none_and_nothing_is_held_while_waiting(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    acquired = context.Event()
    with holding(tmp_path, [("worker-service", True)]):
        waiter = context.Process(target=_hold, args=(
            tmp_path, [("api-service", False), ("inbound-queue", True), ("worker-service", False)], acquired))
        waiter.start()
        assert not acquired.wait(0.5)
        # waiting for worker-service, it holds neither api-service nor inbound-queue
        assert free(tmp_path, "api-service", exclusive=True) and free(tmp_path, "inbound-queue", exclusive=True)
    assert acquired.wait(10)
    waiter.join(timeout=10)
    assert waiter.exitcode == 0


def test_the_locks_are_released_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), holding(tmp_path, [("inbound-dlq", True)]):
        raise RuntimeError("scenario failed")
    assert free(tmp_path, "inbound-dlq", exclusive=True)
