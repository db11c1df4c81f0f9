"""One local server per Terraform listener: an ASGI app served by uvicorn on a local port, plain or TLS, with
the load balancer's client timeouts (`client_timeouts`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from harness.aws.elbv2.client_timeouts import ClientTimeouts, timed_protocol
from harness.core.ca import IssuedCertificate
from harness.core.errors import HarnessError, PortInUseError

AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]


class ListenerServer:
    """Serves `app` on `host:port` (port 0: the OS picks a free one) on the running event loop."""

    def __init__(
        self,
        app: AsgiApp,
        host: str = "127.0.0.1",
        port: int = 0,
        certificate: IssuedCertificate | None = None,
        name: str = "listener",
        client_timeouts: Callable[[], ClientTimeouts] = ClientTimeouts,
    ) -> None:
        self.app = app
        self.client_timeouts = client_timeouts
        self.host = host
        self.requested_port = port
        self.certificate = certificate
        self.name = name
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise HarnessError(f"{self.name} is not started", "call start() first")
        return self._port

    @property
    def scheme(self) -> str:
        return "https" if self.certificate else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise PortInUseError(
                f"{self.name} cannot listen on {self.host}:{self.requested_port} ({exc.strerror})",
                "free that port or let the harness pick one (port 0)",
            ) from exc
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    async def start(self, timeout: float = 10.0) -> None:
        self._socket = self._bind()
        self._port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            http=timed_protocol(self.client_timeouts),  # type: ignore[arg-type]
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # the load balancer is the edge: the peer address is the client
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=2,
            ssl_certfile=str(self.certificate.cert_path) if self.certificate else None,
            ssl_keyfile=str(self.certificate.key_path) if self.certificate else None,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._socket]), name=f"uvicorn {self.name}"
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._server.started:
            if self._task.done():
                exc = self._task.exception()
                raise HarnessError(f"{self.name} failed to start ({exc!r})", "see the log above for the cause")
            if asyncio.get_running_loop().time() > deadline:
                raise HarnessError(f"{self.name} did not start within {timeout}s", "see the log for the cause")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._task = None
