"""The API listens where BIND_HOST says, and the health check follows it."""

from __future__ import annotations

from mailstack.config import health_probe_host, load_bind_host


def test_default_bind_host_is_every_interface() -> None:
    assert load_bind_host({}) == "0.0.0.0"
    assert health_probe_host(load_bind_host({})) == "127.0.0.1"


def test_task_address_is_used_for_listening_and_probing() -> None:
    assert load_bind_host({"BIND_HOST": "127.0.0.7"}) == "127.0.0.7"
    assert health_probe_host("127.0.0.7") == "127.0.0.7"
