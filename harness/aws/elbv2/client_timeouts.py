"""The load balancer's timers on client connections, so a slow or idle client cannot hold a connection forever.

AWS documents two load balancer attributes for them
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html):

- connection idle timeout, `idle_timeout.timeout_seconds` (default 60 s): "the period of time an existing
  client or target connection can remain inactive, with no data being sent or received, before the load
  balancer closes the connection". A client that stops sending in the middle of a request gets
  408 Request Timeout ("The client did not send data before the idle timeout period expired").
- HTTP client keepalive duration, `client_keep_alive.seconds` (default 3600 s): the longest a client
  connection stays open, however busy; it is closed after the response in flight.

Neither bounds a client that trickles its request headers a byte at a time (slowloris): AWS does not document
a header read timeout, so REQUEST_HEADER_TIMEOUT_SECONDS below is ours.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0
DEFAULT_CLIENT_KEEP_ALIVE_SECONDS = 3600.0
# Not documented by AWS: the time from a request's first byte to the end of its headers. 60 s, the default
# idle timeout (and nginx's client_header_timeout): a legitimate client sends its headers in one go.
REQUEST_HEADER_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ClientTimeouts:
    """Seconds, already divided by the data plane's time scale."""

    idle: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    request_header: float = REQUEST_HEADER_TIMEOUT_SECONDS
    keep_alive: float = DEFAULT_CLIENT_KEEP_ALIVE_SECONDS


def _request_timeout_response() -> bytes:
    from harness.aws.elbv2.handler import elb_page  # the handler's error pages; imported late to keep modules apart

    body = elb_page(408)
    head = (
        "HTTP/1.1 408 Request Time-out\r\nServer: awselb/2.0\r\nContent-Type: text/html\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with the load balancer's client timers.

    - idle: armed while the connection waits for the client (before a request, or while a request's
      headers or body come in), restarted by every byte the client sends; between requests uvicorn's own
      keep-alive timer, set to the same value, does the job. Not armed while a complete request waits
      for its target (the target side has its own idle timeout, behind 504s).
    - request header: from a request's first byte until its headers are complete.
    - keep-alive duration: from the connection's start; then closed once no response is in flight.
    When a timer fires on a partly received request the client gets 408; otherwise the connection closes.
    """

    def __init__(self, *args: Any, timeouts: Callable[[], ClientTimeouts], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timeouts = timeouts()
        self.timeout_keep_alive = self._timeouts.idle  # type: ignore[assignment]
        self._idle_timer: asyncio.TimerHandle | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._lifetime_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._restart_idle_timer()
        self._lifetime_timer = self.loop.call_later(self._timeouts.keep_alive, self._keep_alive_expired)

    def data_received(self, data: bytes) -> None:
        reading_request = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        super().data_received(data)
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and reading_request:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self._timeouts.request_header, self._timed_out)
        else:
            self._cancel_header_timer()
        if state in (h11.IDLE, h11.SEND_BODY):
            self._restart_idle_timer()
        else:  # the whole request is in: waiting for the target, not for the client
            self._cancel_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._idle_timer, self._header_timer, self._lifetime_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _restart_idle_timer(self) -> None:
        self._cancel_idle_timer()
        self._idle_timer = self.loop.call_later(self._timeouts.idle, self._timed_out)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        partial_request = state is h11.SEND_BODY or (state is h11.IDLE and bool(self.conn.trailing_data[0]))
        if partial_request and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(_request_timeout_response())
        self.transport.close()

    def _keep_alive_expired(self) -> None:
        self._lifetime_timer = None
        if not self.transport.is_closing():
            self.shutdown()  # closes now when idle, else once the response in flight is sent


def timed_protocol(timeouts: Callable[[], ClientTimeouts]) -> Callable[..., TimedH11Protocol]:
    """What uvicorn's `Config(http=...)` takes: a protocol factory reading the timeouts per connection."""
    return functools.partial(TimedH11Protocol, timeouts=timeouts)
