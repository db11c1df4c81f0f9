"""Fixtures for the services tests: a throwaway PostgreSQL cluster and a moto server.

Both are real (no mocks of psycopg or boto3), run on free ports, and are stopped at session end. They come
from `harness.testing.service_rig`, which `benchmarks/worker_ingest.py` uses too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailstack.config import DatabaseSettings
from mailstack.migrate import apply_migrations

from harness.testing.service_rig import LocalMoto, LocalPostgres, MailBuckets
from tests.services.sns_signer import SnsSigner

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIL_FIXTURES = REPO_ROOT / "fixtures" / "mail"


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    cluster = LocalPostgres()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def migrated_template(postgres: LocalPostgres) -> str:
    """A database with the schema applied; tests clone it (CREATE DATABASE ... TEMPLATE)."""
    settings = postgres.create_database("mailstack_template")
    apply_migrations(settings)
    return settings.name


@pytest.fixture
def database(postgres: LocalPostgres, migrated_template: str) -> DatabaseSettings:
    """A fresh, migrated database for one test."""
    return postgres.create_database(f"test_{uuid.uuid4().hex[:12]}", template=migrated_template)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalMoto]:
    server = LocalMoto()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.aws_environment().items():
            patch.setenv(name, value)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def mail_buckets(moto_server: LocalMoto) -> MailBuckets:
    return MailBuckets.create()


@pytest.fixture
def base_environment(moto_server: LocalMoto) -> dict[str, str]:
    """The contract's common variables, for building settings or a subprocess environment."""
    return {**moto_server.aws_environment(), "MAILSTACK_ENV": "test", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="session")
def sns_signer() -> Iterator[SnsSigner]:
    signer = SnsSigner().start()
    try:
        yield signer
    finally:
        signer.stop()
