"""Behind PgBouncer in transaction pooling mode (tests/run_pgbouncer.sh starts
one and sets LEAD_AUDIT_POOLER_PORT; without it these tests are skipped).

8 concurrent users go through a pooler that has 2 server connections, so their
transactions take turns on the same PostgreSQL backends. The hook's
set_config(..., true) lives and dies with its transaction, which is also the
unit PgBouncer hands a server connection out for: no context can reach another
user's rows. Drivers must not rely on server-side prepared statements that
outlive a transaction (asyncpg: no statement cache and unique names; psycopg:
no automatic preparing), as PgBouncer's documentation says for this mode.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from contextlib import nullcontext
from uuid import uuid4

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

from helpers import LeadSteps, assert_context
from lead_audit import request_context
from lead_audit.sqlalchemy import install_audit_context, install_comment_context
from lead_service.db import database_url
from lead_service.service import create_lead, update_lead

POOLER_PORT = os.environ.get("LEAD_AUDIT_POOLER_PORT")
pytestmark = pytest.mark.skipif(
    POOLER_PORT is None, reason="no pooler: tests/run_pgbouncer.sh runs these behind PgBouncer"
)

USERS = 8
SERVER_CONNECTIONS = 2  # default_pool_size in tests/run_pgbouncer.sh


def through_pooler(driver: str, database: str):
    return database_url(driver, database).set(port=int(POOLER_PORT or 0))


@pytest.fixture(scope="module", autouse=True)
def comment_context_on(database):
    """Statements may carry their context in a comment (read with
    lead_audit.comment_context on): set for the database before the pooler
    opens its first server connection to it, since a server connection reads
    it when it starts."""
    conninfo = database_url("psycopg", database).render_as_string(hide_password=False)
    with psycopg.connect(conninfo.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" SET lead_audit.comment_context = on')


@pytest.fixture
async def pooled(database):
    engine = create_async_engine(
        through_pooler("asyncpg", database).update_query_dict({"prepared_statement_cache_size": "0"}),
        pool_size=USERS,
        max_overflow=0,
        connect_args={"statement_cache_size": 0, "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4()}__"},
    )
    factory = async_sessionmaker(engine, expire_on_commit=False)
    install_audit_context(factory)
    yield factory
    await engine.dispose()


def context_for(i: int, round_: str) -> dict:
    return dict(actor_id=f"pooled-{i}", client_ip=f"192.0.2.{i + 1}", user_agent=f"pool/{i}",
                request_id=f"req-pool-{round_}-{i}")


async def test_eight_users_share_two_server_connections_without_sharing_context(pooled, audit):
    factory = pooled
    steps = LeadSteps("pooled")
    served: dict[int, set[str]] = defaultdict(set)  # server pid -> the requests it served

    async def request(i: int, round_: str, with_context: bool, work) -> None:
        ctx = context_for(i, round_)
        with request_context(**ctx) if with_context else nullcontext():
            for step in work:
                async with factory.begin() as session:
                    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
                    served[pid].add(f"{round_}-{i}")
                    await asyncio.sleep(0.003 * ((i * 7) % 5))  # hold the server connection, interleave
                    await session.run_sync(step, i)

    await asyncio.gather(*(request(i, "r1", True, [steps.create_and_update, steps.soft_delete]) for i in range(USERS)))
    # Round 2: even users with a context, odd ones without, on the server
    # connections round 1's contexts went through.
    await asyncio.gather(*(request(i, "r2", i % 2 == 0, [steps.restore_and_bulk_update]) for i in range(USERS)))

    # The pooler really multiplexed: 24 transactions of 16 requests on at most 2 backends.
    assert 1 <= len(served) <= SERVER_CONNECTIONS
    assert max(len(requests) for requests in served.values()) > 1

    for i in range(USERS):
        steps.recorded(audit, i, context_for, "127.0.0.1")


def test_autocommit_statements_carry_their_context_through_the_pooler(database, audit):
    """In autocommit each statement is its own transaction, so it may run on any
    server connection: the context travels in the statement's comment."""
    engine = create_engine(
        through_pooler("psycopg", database),
        isolation_level="AUTOCOMMIT",
        pool_size=4,
        connect_args={"prepare_threshold": None},
    )
    install_comment_context(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        ids = {}
        for i in range(USERS):
            with request_context(**context_for(i, "ac")):
                with factory() as session:
                    lead = create_lead(session, f"autocommit-{i}@example.com")
                    session.flush()
                    ids[i] = lead.id
                    update_lead(session, lead.id, status="ac")
                    session.flush()
    finally:
        engine.dispose()
    for i, lead_id in ids.items():
        rows = audit.for_lead(lead_id)
        assert [r["action"] for r in rows] == ["INSERT", "UPDATE"]
        assert rows[0]["tx_id"] != rows[1]["tx_id"]  # two transactions, maybe two backends
        for row in rows:
            assert_context(row, **context_for(i, "ac"))

