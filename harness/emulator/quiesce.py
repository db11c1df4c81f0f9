"""A gate in front of the moto server's WSGI app, so a state dump sees no request half-way through.

werkzeug serves each request on its own thread and moto mutates its backends from those threads without
a common lock. Requests pass the gate concurrently; ``exclusive()`` closes it (new requests wait), waits
for the requests in progress to finish, and opens it again when its block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RequestGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold the gate open for one request; waits while an exclusive block runs."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Run the block with no request in progress (one exclusive block at a time).

        A request that is long-polling (SQS ReceiveMessage with WaitTimeSeconds) delays the block until
        it returns, and new requests wait with it.
        """
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._closed = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()
