"""Resource locks: shared ones coexist, an exclusive one excludes, and a set is taken all or none."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from harness.testing.resource_locks import holding


def free(directory: Path, resource: str, exclusive: bool) -> bool:
    """Could someone else (another open file: flock locks belong to it) take this lock right now?"""
    with (directory / f"{resource}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_shared_locks_coexist_and_an_exclusive_one_excludes_everyone(tmp_path: Path) -> None:
    with holding(tmp_path, [("database", False)]):
        assert free(tmp_path, "database", exclusive=False)
        assert not free(tmp_path, "database", exclusive=True)
    with holding(tmp_path, [("api-service", True)]):
        assert not free(tmp_path, "api-service", exclusive=False)
        assert free(tmp_path, "database", exclusive=True)
    assert free(tmp_path, "api-service", exclusive=True)  # released when the block ends


def test_a_set_is_taken_all_or_none_and_nothing_is_held_while_waiting(tmp_path: Path) -> None:
    acquired = threading.Event()
    with holding(tmp_path, [("worker-service", True)]):
        def waiter() -> None:
            with holding(tmp_path, [("api-service", False), ("inbound-queue", True), ("worker-service", False)]):
                acquired.set()

        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        time.sleep(0.3)
        assert not acquired.is_set()
        # waiting for worker-service, it holds neither api-service nor inbound-queue
        assert free(tmp_path, "api-service", exclusive=True) and free(tmp_path, "inbound-queue", exclusive=True)
    thread.join(timeout=10)
    assert acquired.is_set()


def test_the_locks_are_released_when_the_block_fails(tmp_path: Path) -> None:
    try:
        with holding(tmp_path, [("inbound-dlq", True)]):
            raise RuntimeError("scenario failed")
    except RuntimeError:
        pass
    assert free(tmp_path, "inbound-dlq", exclusive=True)
