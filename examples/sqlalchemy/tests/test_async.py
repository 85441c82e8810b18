"""The Lead service on the async engine (asyncpg): the same hook, and concurrent
requests on a pool smaller than their number never see each other's context."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext

import pytest
from sqlalchemy import text

from helpers import APP_NAME, LeadSteps, assert_context
from lead_audit import audit_context, request_context
from lead_service.db import make_async
from lead_service.service import (
    create_lead,
    delete_lead,
    restore_lead,
    soft_delete_lead,
    update_lead,
)

TASKS = 8
POOL_SIZE = 3  # fewer connections than tasks: connections are reused across requests


@pytest.fixture
async def async_db(database):
    engine, factory = make_async(
        database,
        pool_size=POOL_SIZE,
        max_overflow=0,
        connect_args={"server_settings": {"application_name": APP_NAME}},
    )
    yield engine, factory
    await engine.dispose()


def context_for(i: int, round_: str) -> dict:
    return dict(
        actor_id=f"user-{i}",
        client_ip=f"198.51.100.{i + 1}",
        user_agent=f"agent/{i}",
        request_id=f"req-{round_}-{i}",
    )


async def test_async_session_crud_and_raw_sql(async_db, audit):
    _, factory = async_db
    ctx = dict(actor_id="9", client_ip="2001:db8::9", user_agent="httpx/async", request_id="req-async-crud")
    with request_context(**ctx, extra={"via": "asyncpg"}):
        async with factory.begin() as session:
            lead = await session.run_sync(create_lead, "async@example.com", "Async Lead", meta={"a": 1})
            lead_id = lead.id
            await session.run_sync(update_lead, lead_id, status="working")
            await session.execute(text("UPDATE leads SET score = 11 WHERE id = :id"), {"id": lead_id})
        async with factory.begin() as session:
            await session.run_sync(soft_delete_lead, lead_id)
        async with factory.begin() as session:
            await session.run_sync(restore_lead, lead_id)
        async with factory.begin() as session:
            await session.run_sync(delete_lead, lead_id)

    rows = audit.for_lead(lead_id)
    assert [(r["action"], r["soft_delete"]) for r in rows] == [
        ("INSERT", None),
        ("UPDATE", None),
        ("UPDATE", None),
        ("UPDATE", "deleted"),
        ("UPDATE", "restored"),
        ("DELETE", None),
    ]
    insert, orm_update, raw_update, _, _, delete = rows
    assert insert["new_values"]["metadata"] == {"a": 1}
    # same transaction as the INSERT, so now() is unchanged and so is updated_at
    assert orm_update["changed_columns"] == ["status"]
    assert (orm_update["old_values"]["status"], orm_update["new_values"]["status"]) == ("new", "working")
    assert (raw_update["old_values"], raw_update["new_values"]) == ({"score": 0}, {"score": 11})
    assert delete["old_values"]["status"] == "working"
    assert delete["old_values"]["score"] == 11
    assert insert["tx_id"] == orm_update["tx_id"] == raw_update["tx_id"]
    for row in rows:
        assert_context(row, **ctx, context={"via": "asyncpg"})
        assert row["application_name"] == APP_NAME


async def test_concurrent_requests_keep_their_own_context(async_db, audit, connection_ip):
    _, factory = async_db

    async def request(i: int, round_: str, with_context: bool, work) -> set[int]:
        """One request: its own task, so its own copy of the ContextVar."""
        assert audit_context.get() is None
        pids = set()
        with request_context(**context_for(i, round_)) if with_context else nullcontext():
            for step in work:
                async with factory.begin() as session:
                    pids.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar())
                    await asyncio.sleep(0.005 * ((i * 7) % 5))  # hold the connection, interleave
                    await session.run_sync(step, i)
        return pids

    # Round 1: every request has a context; each creates a lead and updates it
    # (one transaction), then soft-deletes it (another transaction).
    steps = LeadSteps("concurrent")
    round1 = await asyncio.gather(
        *(request(i, "r1", True, [steps.create_and_update, steps.soft_delete]) for i in range(TASKS))
    )
    pids = set().union(*round1)
    assert len(pids) <= POOL_SIZE < TASKS

    # Round 2: even requests have a context, odd ones have none, concurrently,
    # on connections that just carried round 1's contexts.
    round2 = await asyncio.gather(
        *(request(i, "r2", i % 2 == 0, [steps.restore_and_bulk_update]) for i in range(TASKS))
    )
    assert len(set().union(*round2)) <= POOL_SIZE

    for i in range(TASKS):
        insert, update, deleted, restored, bulk = steps.recorded(audit, i, context_for, connection_ip)
        assert insert["new_values"]["score"] == i
        assert insert["tx_id"] == update["tx_id"] != deleted["tx_id"]
        assert update["new_values"]["status"] == f"concurrent-1-{i}"
        assert bulk["new_values"]["status"] == f"concurrent-2-{i}"
