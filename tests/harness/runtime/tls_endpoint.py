"""A real local HTTPS endpoint for the SNS tests: records what it receives (Host, SNI) and, like the API's
webhook, confirms a SubscriptionConfirmation by GETting its SubscribeURL."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.core.ca import LocalCA
from harness.core.probes import eventually


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    server_name: str | None

    @property
    def kind(self) -> str | None:
        return self.headers.get("x-amz-sns-message-type")


@dataclass
class TlsEndpoint:
    """HTTPS on 127.0.0.1:<port> with a certificate from `ca` for `dns_names` (+ the 127.0.0.1 IP SAN)."""

    ca: LocalCA
    dns_names: tuple[str, ...]
    confirm: bool = True
    received: list[Received] = field(default_factory=list)
    handshakes: list[str | None] = field(default_factory=list)  # SNI of every TLS handshake
    confirmations: list[int] = field(default_factory=list)  # status of each SubscribeURL GET
    cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> TlsEndpoint:
        cert = self.ca.issue_server_certificate(f"endpoint-{id(self)}", list(self.dns_names), ["127.0.0.1"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.cert_path, cert.key_path)

        def on_sni(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
            with self.cond:
                self.handshakes.append(name)
            sock.harness_sni = name  # type: ignore[attr-defined]

        context.sni_callback = on_sni  # type: ignore[assignment]
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = Received(self.path, headers, body, getattr(self.connection, "harness_sni", None))
                status = 200
                if endpoint.confirm and item.kind == "SubscriptionConfirmation":
                    with urllib.request.urlopen(body["SubscribeURL"], timeout=5) as response:
                        status = response.status
                    with endpoint.cond:
                        endpoint.confirmations.append(status)
                with endpoint.cond:
                    endpoint.received.append(item)
                    endpoint.cond.notify_all()
                self.send_response(200 if status == 200 else 502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        def found() -> list[Received]:
            with self.cond:
                return [r for r in self.received if r.kind == kind]

        return eventually(found, lambda seen: len(seen) >= count, timeout=timeout, interval=0.02,
                          what=f"{count} {kind}(s) received")


def ca_in(directory: Path) -> LocalCA:
    return LocalCA(directory).ensure()
