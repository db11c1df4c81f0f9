"""A running cluster's base backup restored into another state directory: its data, roles and superuser password."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.postgres.cluster import LocalPostgres, state_dir_for
from harness.postgres.snapshot import backup_cluster, restore_cluster

pytestmark = pytest.mark.slow


def _cluster(tmp_path: Path, name: str) -> LocalPostgres:
    return LocalPostgres(state_dir=state_dir_for(tmp_path / name), run_dir=tmp_path, port=free_port())


def test_a_base_backup_restores_data_roles_and_password(tmp_path: Path) -> None:
    source = _cluster(tmp_path, "source")
    source.start()
    try:
        with source.connect() as conn:
            conn.execute("create role app login password 'app-secret'")
            conn.execute("create database mail owner app")
        with psycopg.connect(source.info.dsn("mail", user="app", password="app-secret"), autocommit=True) as conn:
            conn.execute("create table inboxes (address text primary key)")
            conn.execute("insert into inboxes values ('a@example.org'), ('b@example.org')")
        archive = backup_cluster(source, tmp_path / "backup")
        with psycopg.connect(source.info.dsn("mail", user="app", password="app-secret"), autocommit=True) as conn:
            conn.execute("insert into inboxes values ('after-the-backup@example.org')")
        password = source.info.password
    finally:
        source.stop()

    target = _cluster(tmp_path, "target")
    restore_cluster(target, archive, password)
    target.start()
    try:
        assert target.info.password == password
        with psycopg.connect(target.info.dsn("mail", user="app", password="app-secret")) as conn:
            rows = conn.execute("select address from inboxes order by address").fetchall()
        assert rows == [("a@example.org",), ("b@example.org",)]
    finally:
        target.stop()


def test_a_damaged_archive_is_one_clear_error_and_no_data_directory(tmp_path: Path) -> None:
    archive = tmp_path / "base.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    target = _cluster(tmp_path, "target")
    with pytest.raises(HarnessError, match="cannot unpack the database archive"):
        restore_cluster(target, archive, "pw")
    assert not target.data_dir.exists()
