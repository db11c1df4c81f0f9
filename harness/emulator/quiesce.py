"""A gate in front of the moto server's WSGI app, so a state dump sees no request half-way through.

werkzeug serves each request on its own thread and moto mutates its backends from those threads without
a common lock. Requests pass the gate concurrently; ``exclusive()`` closes it (new requests wait), waits
for the requests in progress to finish, and opens it again when its block ends. A request that waits for
something (an SQS long poll, up to 20 s) steps out of the gate while it waits (``suspended()``), so a dump
does not wait for it; it steps back in, after any dump, before it looks at the state again.
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
        self._inside = threading.local()

    def _enter(self) -> None:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._active += 1
        self._inside.held = True

    def _leave(self) -> None:
        self._inside.held = False
        with self._cond:
            self._active -= 1
            if not self._active:
                self._cond.notify_all()

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold the gate open for one request; waits while an exclusive block runs."""
        self._enter()
        try:
            yield
        finally:
            self._leave()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Inside a request: let exclusive blocks run while this thread waits without touching state."""
        if not getattr(self._inside, "held", False):
            yield
            return
        self._leave()
        try:
            yield
        finally:
            self._enter()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Run the block with no request in progress (one exclusive block at a time).

        A request that waits elsewhere than in ``suspended()`` delays the block until it returns.
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


def let_long_polls_step_out(gate: RequestGate) -> None:
    """SQS ReceiveMessage long polls (moto waits on the queue 1 s at a time) wait outside `gate`."""
    from moto.sqs.models import Queue

    wait = Queue.wait_for_messages

    def wait_for_messages(self: Queue, timeout: int) -> None:
        with gate.suspended():
            wait(self, timeout)

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
