"""Fixtures: a fresh database with lead_audit, engines, and a reader of audit_log.

The cluster is the one given by PGHOST/PGPORT/PGUSER (default 127.0.0.1:5494,
postgres); the database `lead_audit_sqlalchemy` is dropped and created anew.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from helpers import APP_NAME
from lead_service.db import create_schema, database_url, make_sync

DB_NAME = os.environ.get("LEAD_AUDIT_TEST_DB", "lead_audit_sqlalchemy")


def _conninfo(database: str) -> str:
    return database_url("psycopg", database).render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgresql://"
    )


@pytest.fixture(scope="session")
def database() -> str:
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'lead_audit'"
        ).fetchone()
        if available is None:
            pytest.exit(
                "the lead_audit extension is not installed in this cluster "
                f"({os.environ.get('PGHOST', '127.0.0.1')}:{os.environ.get('PGPORT', '5494')})",
                returncode=1,
            )
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(_conninfo(DB_NAME), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION lead_audit")
    engine, _ = make_sync(DB_NAME)
    with engine.begin() as conn:
        create_schema(conn)
    engine.dispose()
    return DB_NAME


@pytest.fixture(scope="session")
def sync_db(database):
    """A psycopg 3 engine with ONE pooled connection, so every transaction reuses it."""
    engine, factory = make_sync(
        database,
        pool_size=1,
        max_overflow=0,
        connect_args={"application_name": APP_NAME},
    )
    yield engine, factory
    engine.dispose()


class AuditLog:
    """Reads audit_log over its own connection (which never writes anything)."""

    COLUMNS = """id, tx_id::text AS tx_id, logged_at, table_name, action, soft_delete,
        record_pk, old_values, new_values, changed_columns, actor_id,
        host(client_ip) AS client_ip, user_agent, request_id, context, db_user,
        application_name"""
    # Committed changes only: with lead_audit preloaded, a write that fails is
    # recorded too, by a background worker a moment later (outcome 'failed').
    COMMITTED = "outcome = 'committed'"

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.start = self.last_id()

    def last_id(self) -> int:
        return self.conn.execute("SELECT coalesce(max(id), 0) AS id FROM audit_log").fetchone()["id"]

    def mark(self) -> None:
        """Only rows written after this call are returned by new_rows()."""
        self.start = self.last_id()

    def new_rows(self) -> list[dict[str, Any]]:
        return self.conn.execute(
            f"SELECT {self.COLUMNS} FROM audit_log WHERE id > %s AND {self.COMMITTED} ORDER BY id", (self.start,)
        ).fetchall()

    def for_lead(self, lead_id: int) -> list[dict[str, Any]]:
        return self.conn.execute(
            f"""SELECT {self.COLUMNS} FROM audit_log
                WHERE table_oid = 'leads'::regclass AND record_pk = %s::jsonb AND id > %s AND {self.COMMITTED}
                ORDER BY id""",
            (psycopg.types.json.Jsonb({"id": lead_id}), self.start),
        ).fetchall()

    def setting(self, name: str) -> str | None:
        return self.conn.execute("SELECT current_setting(%s, true) AS v", (name,)).fetchone()["v"]


@pytest.fixture(scope="session")
def _audit_conn(database):
    with psycopg.connect(_conninfo(database), autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def audit(_audit_conn) -> AuditLog:
    return AuditLog(_audit_conn)


@pytest.fixture(scope="session")
def connection_ip(sync_db) -> str | None:
    """The address PostgreSQL sees for our connections: client_ip when none is set."""
    from sqlalchemy import text

    engine, _ = sync_db
    with engine.connect() as conn:
        return conn.execute(text("SELECT host(inet_client_addr())")).scalar()

