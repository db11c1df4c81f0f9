"""Free local ports."""

from __future__ import annotations

import socket

from harness.core.errors import PortInUseError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int, host: str = "127.0.0.1", what: str = "this component") -> int:
    """Return `port` if it can be bound on `host`, else raise a PortInUseError naming the fix."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {host} for {what} is already in use ({exc.strerror})",
                f"stop whatever listens there (`ss -ltnp 'sport = :{port}'` shows it) or leave the port"
                " unset so the harness picks a free one",
            ) from exc
    return port
