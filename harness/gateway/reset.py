"""A blackout: drop the client's connection without an answer (a TCP reset), from inside an ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any


def connection_transport(send: Any) -> asyncio.BaseTransport | None:
    """The transport behind uvicorn's `send` (its request cycle keeps it), or None on another server."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


async def reset_connection(send: Any) -> bool:
    """Close the connection with a RST (SO_LINGER 0) and let the server notice; False if it cannot."""
    transport = connection_transport(send)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()
    for _ in range(3):  # connection_lost runs on a later loop turn: then the server sends no 500 of its own
        await asyncio.sleep(0)
    return True
