"""Binds each RDS PostgreSQL instance Terraform created in the emulator to the real local cluster.

The database, master user and password that the instance declares are created in the local cluster;
the password is read where the services read it, from the RDS-managed master user secret. The
mapping emulated endpoint → real endpoint is what the ECS runner uses to rewrite task configuration.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from harness.core.clients import AwsClients
from harness.core.rundir import RdsBinding as RdsBinding  # the stack.json record, defined with the run directory
from harness.postgres.cluster import LocalPostgres


def _postgres_instances(clients: AwsClients) -> list[dict[str, Any]]:
    paginator = clients.client("rds").get_paginator("describe_db_instances")
    return [
        instance
        for page in paginator.paginate()
        for instance in page["DBInstances"]
        if str(instance.get("Engine", "")).startswith(("postgres", "aurora-postgresql"))
    ]


def _master_password(clients: AwsClients, secret_arn: str | None) -> str | None:
    if not secret_arn:
        return None
    value = clients.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return str(json.loads(value)["password"])


def _ensure_role(pg: LocalPostgres, username: str, password: str | None) -> None:
    with pg.connect() as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (username,)).fetchone()
        verb = sql.SQL("alter role" if exists else "create role")
        statement = sql.SQL("{} {} with login createdb createrole").format(verb, sql.Identifier(username))
        if password is not None:
            statement = sql.SQL("{} password {}").format(statement, sql.Literal(password))
        conn.execute(statement)


def _ensure_database(pg: LocalPostgres, dbname: str, owner: str) -> None:
    with pg.connect() as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone():
            return
        conn.execute(
            sql.SQL("create database {} owner {}").format(sql.Identifier(dbname), sql.Identifier(owner))
        )


def bind_rds_instances(clients: AwsClients, pg: LocalPostgres) -> list[RdsBinding]:
    bindings: list[RdsBinding] = []
    for instance in _postgres_instances(clients):
        username = str(instance["MasterUsername"])
        dbname = str(instance.get("DBName") or "postgres")
        secret_arn = (instance.get("MasterUserSecret") or {}).get("SecretArn")
        password = _master_password(clients, secret_arn)
        _ensure_role(pg, username, password)
        if password is None:
            pg.trust_role(username)  # nobody can know the password; accept the role without one
        _ensure_database(pg, dbname, username)
        endpoint = instance.get("Endpoint") or {}
        bindings.append(
            RdsBinding(
                identifier=str(instance["DBInstanceIdentifier"]),
                emulated_host=str(endpoint.get("Address", "")),
                emulated_port=int(endpoint.get("Port", 5432)),
                host=pg.host,
                port=pg.port,
                dbname=dbname,
                username=username,
                master_secret_arn=secret_arn,
                password_known=password is not None,
            )
        )
    return bindings
