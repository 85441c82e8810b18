"""Fixtures: a fresh database with lead_audit, and connection strings for it.

The cluster is the one given by PGHOST/PGPORT/PGUSER (default 127.0.0.1:5494,
postgres); the database `lead_audit_client` is dropped and created anew. Tests
that need no database (test_context, test_asgi, test_verify) do not touch it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

DB_NAME = os.environ.get("LEAD_AUDIT_CLIENT_DB", "lead_audit_client")


def conninfo(database: str) -> str:
    return psycopg.conninfo.make_conninfo(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5494"),
        user=os.environ.get("PGUSER", "postgres"),
        dbname=database,
    )


def url(driver: str, database: str) -> str:
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5494")
    user = os.environ.get("PGUSER", "postgres")
    return f"postgresql+{driver}://{user}@{host}:{port}/{database}"


@pytest.fixture(scope="session")
def database() -> str:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'lead_audit'").fetchone() is None:
            pytest.exit("the lead_audit extension is not installed in this cluster", returncode=1)
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(conninfo(DB_NAME), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION lead_audit")
        conn.execute("CREATE TABLE leads (id bigserial PRIMARY KEY, email text NOT NULL, status text)")
        conn.execute("SELECT audit_enable('leads')")
    return DB_NAME


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection[dict[str, object]]]:
    """An autocommit connection that reads the log (it writes nothing itself)."""
    with psycopg.connect(conninfo(database), autocommit=True, row_factory=dict_row) as conn:
        yield conn


def last_id(db: psycopg.Connection[dict[str, object]]) -> int:
    row = db.execute("SELECT coalesce(max(id), 0) AS id FROM audit_log").fetchone()
    assert row is not None
    return int(str(row["id"]))


def rows_after(db: psycopg.Connection[dict[str, object]], start: int) -> list[dict[str, object]]:
    """The committed changes logged after `start` (a failed write's record comes
    a moment later from a background worker: never counted here)."""
    return db.execute(
        "SELECT action, actor_id, host(client_ip) AS client_ip, user_agent, request_id, context,"
        " new_values FROM audit_log WHERE id > %s AND action <> 'DDL' AND outcome = 'committed' ORDER BY id",
        (start,),
    ).fetchall()
