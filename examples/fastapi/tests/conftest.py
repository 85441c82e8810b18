"""Fixtures: a fresh database with lead_audit and the leads schema, the app
through FastAPI's test client, and a connection that reads the log.

The cluster is PGHOST/PGPORT/PGUSER (default 127.0.0.1:5494, postgres); the
database `lead_audit_fastapi` is dropped and created anew.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from lead_api.app import SCHEMA, create_app

DB_NAME = os.environ.get("LEAD_AUDIT_FASTAPI_DB", "lead_audit_fastapi")
HOST = os.environ.get("PGHOST", "127.0.0.1")
PORT = os.environ.get("PGPORT", "5494")
USER = os.environ.get("PGUSER", "postgres")


def conninfo(database: str) -> str:
    return f"host={HOST} port={PORT} user={USER} dbname={database}"


@pytest.fixture(scope="session")
def database() -> str:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(conninfo(DB_NAME), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION lead_audit")
        for statement in SCHEMA:
            conn.execute(statement)
    return DB_NAME


@pytest.fixture(scope="session")
def client(database: str) -> Iterator[TestClient]:
    app = create_app(f"postgresql+asyncpg://{USER}@{HOST}:{PORT}/{database}")
    with TestClient(app) as c:  # runs the lifespan: one engine for the session
        yield c


@pytest.fixture(scope="session")
def db(database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo(database), autocommit=True, row_factory=dict_row) as conn:
        yield conn
