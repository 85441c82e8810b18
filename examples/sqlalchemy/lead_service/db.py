"""Engines, session factories and the schema of the example service."""

from __future__ import annotations

import os

from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

from lead_audit.sqlalchemy import install_audit_context
from .models import Base


def database_url(driver: str, database: str) -> URL:
    """A URL for the cluster given by PGHOST/PGPORT/PGUSER/PGPASSWORD."""
    return URL.create(
        f"postgresql+{driver}",
        username=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD") or None,
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5494")),
        database=database,
    )


def make_sync(database: str, **engine_kw) -> tuple[Engine, sessionmaker]:
    """A psycopg 3 engine and a session factory with the audit hook installed."""
    engine = create_engine(database_url("psycopg", database), **engine_kw)
    factory = sessionmaker(engine, expire_on_commit=False)
    install_audit_context(factory)
    return engine, factory


def make_async(database: str, **engine_kw) -> tuple[AsyncEngine, async_sessionmaker]:
    """An asyncpg engine and an AsyncSession factory with the audit hook installed."""
    engine = create_async_engine(database_url("asyncpg", database), **engine_kw)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    install_audit_context(factory)
    return engine, factory


def create_schema(conn: Connection) -> None:
    """Create the leads table and put it under lead_audit (the extension must exist)."""
    Base.metadata.create_all(conn)
    conn.execute(text("SELECT audit_enable('leads')"))
