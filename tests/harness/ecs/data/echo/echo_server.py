"""A tiny stand-in for a service image: `serve` (HTTP on $BIND_HOST:$PORT) or `migrate` (one-shot).

GET /health -> 200 "ok"; GET /env -> the process environment as JSON. SIGTERM exits 0.
`migrate` prints a few lines and exits with $MIGRATE_EXIT (default 0).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            body = b"ok"
        elif self.path == "/env":
            body = json.dumps(dict(os.environ)).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"request {self.command} {self.path}", flush=True)


def serve() -> int:
    host, port = os.environ.get("BIND_HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)

    def stop(signum: int, frame: object) -> None:
        print("echo server: SIGTERM, shutting down", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"echo server listening on {host}:{port}", flush=True)
    server.serve_forever()
    return 0


def migrate() -> int:
    code = int(os.environ.get("MIGRATE_EXIT", "0"))
    print("migrate: applying 3 migrations", flush=True)
    if code:
        print(f"migrate: relation \"mail\" does not exist (exit {code})", flush=True)
    else:
        print("migrate: done", flush=True)
    return code


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    sys.exit({"serve": serve, "migrate": migrate}[command]())
