"""The ALB data plane's client timers over real TCP: slowloris clients, idle connections, stalled bodies and
the client keep-alive duration. The load balancer's 30 s idle timeout runs at idle_timeout_scale 30 (1 s);
the 60 s request header timeout likewise (2 s)."""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
import time

import pytest

from harness.aws.elbv2.client_timeouts import REQUEST_HEADER_TIMEOUT_SECONDS
from harness.aws.elbv2.dataplane import AlbDataPlane
from tests.harness.alb.conftest import IDLE_TIMEOUT_SCALE, AlbEnv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SLOW_CLIENTS = 20
IDLE = 30 / IDLE_TIMEOUT_SCALE
HEADER_TIMEOUT = REQUEST_HEADER_TIMEOUT_SECONDS / IDLE_TIMEOUT_SCALE
DEADLINE = 15.0  # generous: every timer here is at most a few seconds


def connect(plane: AlbDataPlane, port: int = 80) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", plane.local_port(port)), timeout=DEADLINE)
    sock.setblocking(False)
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> bytes | None:
    """What the server sent before closing the connection; None if it is still open at `deadline`."""
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    received = b""
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.05):
                continue
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
        return None
    finally:
        selector.close()


def test_slowloris_clients_are_closed_while_normal_requests_succeed(env: AlbEnv, plane: AlbDataPlane) -> None:
    """Each slow client sends a header byte well within the idle timeout, so only the request header
    timeout can end it; meanwhile the load balancer keeps serving others."""
    clients = [connect(plane) for _ in range(SLOW_CLIENTS)]
    for sock in clients:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: " + env.dns_name.encode() + b"\r\nX-Slow: ")
    stop = threading.Event()
    closed: set[int] = set()

    def trickle() -> None:
        while not stop.is_set():
            for index, sock in enumerate(clients):
                if index in closed:
                    continue
                try:
                    sock.send(b"a")
                except OSError:
                    closed.add(index)
            stop.wait(IDLE / 4)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    started = time.monotonic()
    try:
        served = 0
        client = env.https()
        while time.monotonic() - started < HEADER_TIMEOUT * 0.75:  # before any slow client can be cut off
            assert client.get("/whoami").status_code == 200
            served += 1
        outcomes = [read_until_closed(sock, started + DEADLINE) for sock in clients]
        assert client.get("/whoami").status_code == 200
    finally:
        stop.set()
        trickler.join(timeout=5)
        for sock in clients:
            sock.close()
    still_open = sum(outcome is None for outcome in outcomes)
    assert still_open == 0, f"{still_open} of {SLOW_CLIENTS} slowloris connections still open after {DEADLINE}s"
    assert all(outcome.startswith(b"HTTP/1.1 408 ") for outcome in outcomes if outcome is not None)
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9  # they were cut by the header timeout, not sooner
    assert served > 0


def test_silent_connection_is_closed_after_the_idle_timeout(env: AlbEnv, plane: AlbDataPlane) -> None:
    sock = connect(plane)
    started = time.monotonic()
    try:
        assert read_until_closed(sock, started + DEADLINE) == b""  # closed, nothing sent: there was no request
    finally:
        sock.close()
    assert time.monotonic() - started >= IDLE * 0.9


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(env: AlbEnv, plane: AlbDataPlane) -> None:
    sock = connect(plane)  # :80 answers every request with a redirect and keeps the connection open
    try:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: " + env.dns_name.encode() + b"\r\n\r\n")
        sent = time.monotonic()
        received = read_until_closed(sock, sent + DEADLINE)
    finally:
        sock.close()
    assert received is not None and received.startswith(b"HTTP/1.1 301 ")
    elapsed = time.monotonic() - sent
    assert IDLE * 0.9 <= elapsed < 4 * IDLE  # the load balancer's idle timeout, not uvicorn's default of 5 s


def test_connection_is_closed_after_the_client_keep_alive_duration(env: AlbEnv, plane: AlbDataPlane) -> None:
    """client_keep_alive.seconds (60 s, its minimum, so 2 s here): a connection busy with requests well
    within the idle timeout is still closed once the duration is over, after a complete response."""
    env.elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=env.lb_arn, Attributes=[{"Key": "client_keep_alive.seconds", "Value": "60"}]
    )
    plane.refresh()
    keep_alive = 60 / IDLE_TIMEOUT_SCALE
    sock = socket.create_connection(("127.0.0.1", plane.local_port(80)), timeout=DEADLINE)
    opened = time.monotonic()
    responses = 0
    try:
        stream = sock.makefile("rb")
        while time.monotonic() - opened < DEADLINE:
            try:
                sock.sendall(b"GET /x HTTP/1.1\r\nHost: " + env.dns_name.encode() + b"\r\n\r\n")
            except OSError:
                break
            status_line = stream.readline()
            if not status_line:
                break
            assert status_line.startswith(b"HTTP/1.1 301 ")
            while stream.readline() not in (b"\r\n", b""):  # headers; a redirect has no body
                pass
            responses += 1
            time.sleep(IDLE / 5)
    finally:
        sock.close()
    assert responses > 1
    assert keep_alive * 0.9 <= time.monotonic() - opened < DEADLINE


def test_stalled_request_body_gets_408_after_the_idle_timeout(env: AlbEnv, plane: AlbDataPlane) -> None:
    tls = ssl.create_default_context(cafile=plane.ca_bundle_path)
    raw = socket.create_connection(("127.0.0.1", plane.local_port(443)), timeout=DEADLINE)
    client = tls.wrap_socket(raw, server_hostname=env.dns_name)
    try:
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: " + env.dns_name.encode() + b"\r\nContent-Length: 100\r\n\r\n")
        client.sendall(b"only ten b")
        received = client.recv(65536)
    finally:
        client.close()
    assert received.startswith(b"HTTP/1.1 408 ")
