"""Real HTTP backends for the ALB tests: tiny threaded servers on 127.0.0.x whose /health can be flipped."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Backend:
    """Serves:
    /health            -> `health_status` (flip it to 500 to fail health checks), after `health_delay` s
    /slow?s=<seconds>  -> sleeps, then 200
    /stream            -> two chunks half a second apart (chunked)
    anything else      -> 200 JSON: backend name, method, path, headers, body length + sha256
    """

    def __init__(self, name: str, host: str = "127.0.0.1") -> None:
        self.name = name
        self.health_status = 200
        self.health_delay = 0.0
        self.health_checks = 0
        self.requests: list[dict] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/health":
                    backend.health_checks += 1
                    if backend.health_delay:
                        time.sleep(backend.health_delay)
                    self._reply(backend.health_status, b"{}")
                    return
                if url.path == "/slow":
                    time.sleep(float(parse_qs(url.query).get("s", ["1"])[0]))
                    self._reply(200, json.dumps({"backend": backend.name}).encode())
                    return
                if url.path == "/stream":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in (b"first;", b"second"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                        time.sleep(0.5)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                body = self._read_body()
                record = {
                    "backend": backend.name,
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "length": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
                backend.requests.append(record)
                self._reply(200, json.dumps(record).encode())

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def __getattr__(self, name: str) -> object:
                # Every other method too (HEAD, OPTIONS, TRACE, made-up ones), body read: a well-behaved target
                # for the fuzz tests (http.server's 501 leaves an unread body on a kept-alive connection).
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"backend-{name}", daemon=True
        )

    def start(self) -> Backend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
