"""Database connections: a synchronous pool for the worker, an async pool for the API."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mailstack.config import DatabaseSettings


def sync_pool(settings: DatabaseSettings, max_size: int = 2) -> ConnectionPool:
    """A pool that is opened lazily: the first `connection()` waits for the database."""
    pool = ConnectionPool(settings.conninfo(), min_size=1, max_size=max_size, open=False, name="mailstack-worker")
    pool.open(wait=False)
    return pool


def async_pool(settings: DatabaseSettings, max_size: int = 10) -> AsyncConnectionPool:
    """An async pool; open it with `await pool.open(wait=False)` inside the event loop."""
    return AsyncConnectionPool(settings.conninfo(), min_size=1, max_size=max_size, open=False, name="mailstack-api")
