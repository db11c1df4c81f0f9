"""`mailstack migrate` against a real PostgreSQL: idempotent, and safe when run concurrently."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from mailstack.migrate import apply_migrations

from harness.testing.service_rig import LocalPostgres, database_environment

pytestmark = pytest.mark.slow

TABLES = {"domains", "inboxes", "messages", "recipients", "attachments", "sns_notifications"}


def tables(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
    return {row[0] for row in rows}


def test_migrate_twice_applies_once(postgres: LocalPostgres):
    settings = postgres.create_database(f"migrate_{uuid.uuid4().hex[:8]}")
    assert apply_migrations(settings) == ["0001_initial_schema"]
    assert apply_migrations(settings) == []
    assert tables(settings.conninfo()) >= TABLES


def test_concurrent_migrations_apply_exactly_once(postgres: LocalPostgres):
    settings = postgres.create_database(f"migrate_{uuid.uuid4().hex[:8]}")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: apply_migrations(settings), range(4)))
    assert sorted(len(applied) for applied in results) == [0, 0, 0, 1]
    assert tables(settings.conninfo()) >= TABLES


def test_migrate_command(postgres: LocalPostgres):
    settings = postgres.create_database(f"migrate_{uuid.uuid4().hex[:8]}")
    environment = {**os.environ, **database_environment(settings)}
    result = subprocess.run(
        [sys.executable, "-m", "mailstack", "migrate"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"message": "migrations applied"' in result.stdout
    assert tables(settings.conninfo()) >= TABLES


def test_migrate_without_database_settings_names_the_variable():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    result = subprocess.run(
        [sys.executable, "-m", "mailstack", "migrate"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "missing environment variable DB_HOST" in result.stderr
