"""`mailstack migrate`: apply the SQL migrations in mailstack/migrations with yoyo.

Safe to run concurrently and repeatedly: yoyo's lock table serialises migrators, and the set of
pending migrations is computed while holding the lock.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend

from mailstack.config import DatabaseSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

logger = logging.getLogger(__name__)


def _connect(settings: DatabaseSettings, wait_seconds: float) -> DatabaseBackend:
    """Connect, retrying while the database is still starting (up to `wait_seconds`)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return get_backend(settings.yoyo_uri())
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise
            logger.warning("database not reachable yet, retrying", extra={"error": str(exc)})
            time.sleep(1)


def apply_migrations(
    settings: DatabaseSettings, lock_timeout_seconds: float = 300, connect_wait_seconds: float = 30
) -> list[str]:
    """Apply pending migrations; return the ids of the ones this call applied."""
    backend = _connect(settings, connect_wait_seconds)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock(timeout=lock_timeout_seconds):
            pending = backend.to_apply(migrations)
            applied = [migration.id for migration in pending]
            backend.apply_migrations(pending)
    finally:
        backend.connection.close()
    logger.info("migrations applied", extra={"applied": applied, "database": settings.name})
    return applied
