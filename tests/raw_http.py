"""Raw HTTP/1.1 over a socket, for fuzz tests: sends bytes exactly as given (no client-side
normalisation of paths, headers or framing) and reads back the status line and headers."""

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


@dataclass(frozen=True)
class RawResponse:
    status: int
    head: bytes  # status line and headers

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def exchange(
    host: str,
    port: int,
    data: bytes,
    timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> RawResponse | None:
    """Send `data`, return the first response's head (None: closed without one, or timed out)."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock: socket.socket = tls.wrap_socket(raw, server_hostname=server_hostname or host) if tls else raw
        try:
            sock.sendall(data)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return None
        finally:
            if sock is not raw:
                sock.close()
    head = received.split(b"\r\n\r\n", 1)[0]
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return RawResponse(int(parts[1]), head)
