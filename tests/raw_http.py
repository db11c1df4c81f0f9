"""Raw HTTP/1.1 over a socket, for fuzz tests: sends bytes exactly as given (no client-side
normalisation of paths, headers or framing) and reads back the status code."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field


@dataclass
class FuzzCounter:
    """How many generated inputs a fuzz test sent, and the statuses it got back (for the report)."""

    sent: int = 0
    statuses: dict[int | None, int] = field(default_factory=dict)

    def record(self, status: int | None) -> None:
        self.sent += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self) -> str:
        ordered = sorted(self.statuses.items(), key=lambda item: (item[0] is None, item[0] or 0))
        return f"{self.sent} inputs; statuses " + ", ".join(f"{status}: {n}" for status, n in ordered)


def request_bytes(method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    lines = [method.encode("latin-1") + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(
    host: str,
    port: int,
    data: bytes,
    timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> int | None:
    """Send `data`, return the status code of the first response (None: closed without one, or timed out)."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock: socket.socket = tls.wrap_socket(raw, server_hostname=server_hostname or host) if tls else raw
        try:
            sock.sendall(data)
            received = b""
            while b"\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return None
        finally:
            if sock is not raw:
                sock.close()
    status_line = received.split(b"\r\n", 1)[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])
