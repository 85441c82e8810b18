"""The SQLAlchemy integration against a real cluster: the context reaches the
audit rows of sync and async sessions and of commented statements, and never
outlives its transaction on a pooled connection."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from conftest import last_id, rows_after, url
from lead_audit import request_context
from lead_audit.sqlalchemy import install_audit_context, install_comment_context

Db = psycopg.Connection[dict[str, object]]
INSERT = text("INSERT INTO leads (email) VALUES (:email)")


def test_sync_sessions_record_the_context_and_only_in_its_transaction(database: str, db: Db) -> None:
    engine = create_engine(url("psycopg", database), pool_size=1, max_overflow=0)
    factory = sessionmaker(engine)
    install_audit_context(factory)
    start = last_id(db)
    try:
        with request_context(actor_id=7, client_ip="198.51.100.7", user_agent="sync", request_id="s-1",
                             extra={"route": "POST /leads"}):
            with factory.begin() as session:
                session.execute(INSERT, {"email": "a@example.com"})
        with factory.begin() as session:  # same pooled connection, no context
            session.execute(INSERT, {"email": "b@example.com"})
        with request_context(actor_id=8):
            with pytest.raises(RuntimeError):
                with factory.begin() as session:
                    session.execute(INSERT, {"email": "rolled-back@example.com"})
                    raise RuntimeError("the request failed")
        with factory.begin() as session:
            session.execute(INSERT, {"email": "c@example.com"})
    finally:
        engine.dispose()
    a, b, c = rows_after(db, start)
    assert (a["actor_id"], a["client_ip"], a["user_agent"], a["request_id"], a["context"]) == (
        "7", "198.51.100.7", "sync", "s-1", {"route": "POST /leads"})
    for row in (b, c):
        assert (row["actor_id"], row["user_agent"], row["request_id"], row["context"]) == (None, None, None, None)


def test_a_session_class_can_be_the_target(database: str, db: Db) -> None:
    class AuditedSession(Session):
        pass

    install_audit_context(AuditedSession)
    engine = create_engine(url("psycopg", database))
    start = last_id(db)
    try:
        with request_context(actor_id="by-class"):
            with AuditedSession(engine) as session, session.begin():
                session.execute(INSERT, {"email": "class@example.com"})
            with Session(engine) as other, other.begin():  # another class: no hook
                other.execute(INSERT, {"email": "plain@example.com"})
    finally:
        engine.dispose()
    audited, plain = rows_after(db, start)
    assert audited["actor_id"] == "by-class" and plain["actor_id"] is None


def test_async_sessions_keep_concurrent_requests_apart(database: str, db: Db) -> None:
    start = last_id(db)

    async def main() -> None:
        engine = create_async_engine(url("asyncpg", database), pool_size=3, max_overflow=0)
        factory = async_sessionmaker(engine)
        install_audit_context(factory)

        async def request(i: int) -> None:
            with request_context(actor_id=f"user-{i}", request_id=f"req-{i}"):
                async with factory.begin() as session:
                    await asyncio.sleep(0.01 * (i % 3))
                    await session.execute(INSERT, {"email": f"user-{i}@example.com"})

        try:
            await asyncio.gather(*(request(i) for i in range(8)))
        finally:
            await engine.dispose()

    asyncio.run(main())
    rows = rows_after(db, start)
    assert len(rows) == 8
    for row in rows:
        new = row["new_values"]
        assert isinstance(new, dict)
        i = str(new["email"]).split("@")[0].removeprefix("user-")
        assert (row["actor_id"], row["request_id"]) == (f"user-{i}", f"req-{i}")


def test_comments_carry_the_context_in_autocommit(database: str, db: Db) -> None:
    db.execute(f'ALTER DATABASE "{database}" SET lead_audit.comment_context = on')
    engine = create_engine(url("psycopg", database), isolation_level="AUTOCOMMIT")
    install_comment_context(engine)
    start = last_id(db)
    try:
        with request_context(actor_id=5, user_agent="100% */ sure", extra={"via": "comment"}):
            with engine.connect() as conn:
                conn.execute(INSERT, {"email": "comment@example.com"})
                conn.execute(text("UPDATE leads SET status = 'seen' WHERE email = 'comment@example.com'"))
        with engine.connect() as conn:
            conn.execute(INSERT, {"email": "nocomment@example.com"})
        # The server checks what a comment says (here one written by hand, the
        # hook adding none without a context).
        with pytest.raises(DBAPIError, match="must be a JSON object"):
            with engine.connect() as conn:
                conn.execute(text('/* lead_audit {"context": [1]} */ INSERT INTO leads (email) VALUES (\'x\')'))
    finally:
        engine.dispose()
        db.execute(f'ALTER DATABASE "{database}" RESET lead_audit.comment_context')
    inserted, updated, plain = rows_after(db, start)
    for row in (inserted, updated):
        assert (row["actor_id"], row["user_agent"], row["context"]) == ("5", "100% */ sure", {"via": "comment"})
    assert plain["actor_id"] is None
