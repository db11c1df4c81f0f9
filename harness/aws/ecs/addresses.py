"""Loopback addresses standing in for the awsvpc ENI IP of each task.

On Linux the whole 127.0.0.0/8 is on `lo`, so every task gets its own address (127.0.0.2, .3, ...)
and keeps the task definition's containerPort: two API tasks both listen on :8080, each on its own
IP, and the target registered in the load balancer is `<task ip>:<containerPort>` exactly as with awsvpc.
Addresses are handed out round-robin (a stopped task's address is not reused at once, so a target
still draining in the load balancer is not confused with a new task), skipping any address on
which one of the task's ports is already taken by someone else.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from collections.abc import Iterable

from harness.core.errors import HarnessError


def _bindable(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise HarnessError(
                    f"cannot bind {ip}: this system has only 127.0.0.1 on its loopback interface",
                    f"add the address (macOS: `sudo ifconfig lo0 alias {ip} up`) or use the container driver",
                ) from exc
            return False
    return True


class LoopbackAllocator:
    """Thread-safe allocator of loopback addresses in [first, last]."""

    def __init__(self, first: str = "127.0.0.2", last: str = "127.255.255.254", exclude: Iterable[str] = ()) -> None:
        self.first = int(ipaddress.IPv4Address(first))
        self.last = int(ipaddress.IPv4Address(last))
        if not (ipaddress.IPv4Address(first).is_loopback and ipaddress.IPv4Address(last).is_loopback):
            raise HarnessError(f"{first}..{last} is not a loopback range", "use addresses within 127.0.0.0/8")
        if self.last < self.first:
            raise HarnessError(f"empty address range {first}..{last}", "make last >= first")
        self.exclude = {int(ipaddress.IPv4Address(ip)) for ip in exclude}
        self._next = self.first
        self._in_use: set[int] = set()
        self._lock = threading.Lock()

    def allocate(self, ports: Iterable[int] = ()) -> str:
        """The next address not in use by a task, on which every port in `ports` is free."""
        wanted = [p for p in ports if p]
        size = self.last - self.first + 1
        with self._lock:
            for _ in range(min(size, 1024)):
                candidate = self._next
                self._next = self.first if candidate >= self.last else candidate + 1
                if candidate in self._in_use or candidate in self.exclude:
                    continue
                ip = str(ipaddress.IPv4Address(candidate))
                if all(_bindable(ip, port) for port in wanted):
                    self._in_use.add(candidate)
                    return ip
        wildcard = [p for p in wanted if not _bindable("0.0.0.0", p)]
        if wildcard:
            raise HarnessError(
                f"no loopback address has port {wildcard[0]} free: something listens on 0.0.0.0:{wildcard[0]}"
                " (all addresses), typically a task that ignores $BIND_HOST",
                "make the program bind $BIND_HOST (the task's own address, like an awsvpc ENI), or stop it",
            )
        raise HarnessError(f"no free loopback address for ports {wanted}",
                           "stop what listens on those ports, or run fewer tasks")

    def release(self, ip: str) -> None:
        with self._lock:
            self._in_use.discard(int(ipaddress.IPv4Address(ip)))

    def in_use(self) -> set[str]:
        with self._lock:
            return {str(ipaddress.IPv4Address(i)) for i in self._in_use}
