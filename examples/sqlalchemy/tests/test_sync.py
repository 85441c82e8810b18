"""The Lead service on the sync engine (psycopg 3): every kind of write is audited
with the request's context, and no context outlives its transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from helpers import APP_NAME, DB_USER, LEAD_COLUMNS, assert_context, assert_no_context
from lead_audit import AuditContext, audit_context, request_context
from lead_service.models import Lead
from lead_service.service import (
    bulk_delete,
    bulk_update_status,
    create_lead,
    delete_lead,
    purge_soft_deleted,
    restore_lead,
    soft_delete_lead,
    update_lead,
)

ALICE = dict(
    actor_id=42,
    client_ip="203.0.113.7",
    user_agent="Mozilla/5.0 (pytest sync)",
    request_id="req-sync-1",
)
ALICE_ROW = dict(ALICE, actor_id="42")


def new_lead(factory, email: str, **kw) -> int:
    """Create a lead in a transaction of its own, without request context."""
    with factory.begin() as session:
        return create_lead(session, email, **kw).id


def test_create_records_the_whole_row_and_the_context(sync_db, audit):
    _, factory = sync_db
    with request_context(**ALICE, extra={"route": "POST /leads", "tenant": 3}):
        with factory.begin() as session:
            lead = create_lead(
                session, "ada@example.com", "Ada Lovelace", score=10, meta={"source": "web", "tags": ["vip"]}
            )
            lead_id = lead.id

    [row] = audit.new_rows()
    assert row["action"] == "INSERT"
    assert row["table_name"] == "public.leads"
    assert row["record_pk"] == {"id": lead_id}
    assert row["soft_delete"] is None
    assert row["old_values"] is None
    assert row["changed_columns"] is None
    new = row["new_values"]
    assert set(new) == LEAD_COLUMNS
    assert new["id"] == lead_id
    assert new["email"] == "ada@example.com"
    assert new["full_name"] == "Ada Lovelace"
    assert new["status"] == "new"
    assert new["score"] == 10
    assert new["metadata"] == {"source": "web", "tags": ["vip"]}
    assert new["is_deleted"] is False
    assert isinstance(new["created_at"], str) and new["created_at"] == new["updated_at"]
    assert_context(row, **ALICE_ROW, context={"route": "POST /leads", "tenant": 3})
    assert row["db_user"] == DB_USER
    assert row["application_name"] == APP_NAME


def test_update_records_only_the_changed_columns(sync_db, audit):
    _, factory = sync_db
    lead_id = new_lead(factory, "grace@example.com", full_name="Grace Hopper", meta={"source": "fair"})
    audit.mark()

    with request_context(**ALICE):
        with factory.begin() as session:
            update_lead(session, lead_id, status="contacted", score=25, meta={"source": "fair", "stage": 2})

    [row] = audit.new_rows()
    assert row["action"] == "UPDATE"
    assert row["record_pk"] == {"id": lead_id}
    assert row["soft_delete"] is None
    # updated_at changes too: the model's onupdate stamps it.
    assert sorted(row["changed_columns"]) == ["metadata", "score", "status", "updated_at"]
    assert set(row["old_values"]) == set(row["new_values"]) == set(row["changed_columns"])
    assert {k: row["old_values"][k] for k in ("status", "score", "metadata")} == {
        "status": "new",
        "score": 0,
        "metadata": {"source": "fair"},
    }
    assert {k: row["new_values"][k] for k in ("status", "score", "metadata")} == {
        "status": "contacted",
        "score": 25,
        "metadata": {"source": "fair", "stage": 2},
    }
    assert_context(row, **ALICE_ROW)


def test_soft_delete_and_restore_are_marked(sync_db, audit):
    _, factory = sync_db
    lead_id = new_lead(factory, "linus@example.com")
    audit.mark()

    with request_context(**dict(ALICE, request_id="req-soft-delete")):
        with factory.begin() as session:
            soft_delete_lead(session, lead_id)
    with request_context(**dict(ALICE, actor_id="7", request_id="req-restore")):
        with factory.begin() as session:
            restore_lead(session, lead_id)

    deleted, restored = audit.for_lead(lead_id)
    assert (deleted["action"], deleted["soft_delete"]) == ("UPDATE", "deleted")
    assert sorted(deleted["changed_columns"]) == ["is_deleted", "updated_at"]
    assert deleted["old_values"]["is_deleted"] is False
    assert deleted["new_values"]["is_deleted"] is True
    assert_context(deleted, **dict(ALICE_ROW, request_id="req-soft-delete"))

    assert (restored["action"], restored["soft_delete"]) == ("UPDATE", "restored")
    assert restored["old_values"]["is_deleted"] is True
    assert restored["new_values"]["is_deleted"] is False
    assert_context(restored, **dict(ALICE_ROW, actor_id="7", request_id="req-restore"))
    assert int(restored["tx_id"]) > int(deleted["tx_id"])


def test_delete_records_the_whole_old_row(sync_db, audit):
    _, factory = sync_db
    lead_id = new_lead(factory, "edsger@example.com", full_name="Edsger Dijkstra", score=3)
    audit.mark()

    with request_context(**dict(ALICE, request_id="req-delete")):
        with factory.begin() as session:
            delete_lead(session, lead_id)

    [row] = audit.new_rows()
    assert row["action"] == "DELETE"
    assert row["record_pk"] == {"id": lead_id}
    assert row["new_values"] is None
    assert row["changed_columns"] is None
    assert set(row["old_values"]) == LEAD_COLUMNS
    assert row["old_values"]["email"] == "edsger@example.com"
    assert row["old_values"]["full_name"] == "Edsger Dijkstra"
    assert row["old_values"]["score"] == 3
    assert_context(row, **dict(ALICE_ROW, request_id="req-delete"))


def test_bulk_update_statement_is_audited_row_by_row(sync_db, audit):
    _, factory = sync_db
    ids = [new_lead(factory, f"bulk-update-{i}@example.com") for i in range(3)]
    audit.mark()

    with request_context(**dict(ALICE, request_id="req-bulk-update")):
        with factory.begin() as session:
            assert bulk_update_status(session, ids[:2], "qualified") == 2
            # the identity map was synchronized by the ORM-enabled update()
            assert session.get(Lead, ids[0]).status == "qualified"

    rows = audit.new_rows()
    assert sorted(r["record_pk"]["id"] for r in rows) == ids[:2]
    assert len({r["tx_id"] for r in rows}) == 1
    for row in rows:
        assert row["action"] == "UPDATE"
        assert sorted(row["changed_columns"]) == ["status", "updated_at"]
        assert row["old_values"]["status"] == "new"
        assert row["new_values"]["status"] == "qualified"
        assert_context(row, **dict(ALICE_ROW, request_id="req-bulk-update"))


def test_bulk_delete_statements_are_audited_row_by_row(sync_db, audit):
    _, factory = sync_db
    ids = [new_lead(factory, f"bulk-delete-{i}@example.com", score=i) for i in range(4)]
    with factory.begin() as session:
        soft_delete_lead(session, ids[3])
    audit.mark()

    with request_context(**dict(ALICE, request_id="req-bulk-delete")):
        with factory.begin() as session:
            assert bulk_delete(session, ids[:2]) == 2
            assert purge_soft_deleted(session) >= 1

    rows = audit.new_rows()
    by_id = {r["record_pk"]["id"]: r for r in rows}
    assert set(ids[:2]) | {ids[3]} <= set(by_id)
    assert ids[2] not in by_id
    for lead_id in (ids[0], ids[1], ids[3]):
        row = by_id[lead_id]
        assert row["action"] == "DELETE"
        assert row["new_values"] is None
        assert set(row["old_values"]) == LEAD_COLUMNS
        assert row["old_values"]["score"] == ids.index(lead_id)
        assert_context(row, **dict(ALICE_ROW, request_id="req-bulk-delete"))
    assert by_id[ids[3]]["old_values"]["is_deleted"] is True


def test_raw_sql_in_the_same_session_is_audited(sync_db, audit):
    _, factory = sync_db
    with request_context(**dict(ALICE, request_id="req-raw-sql")):
        with factory.begin() as session:
            lead_id = create_lead(session, "raw@example.com").id
            session.execute(text("UPDATE leads SET score = score + 5 WHERE id = :id"), {"id": lead_id})
            # changes nothing: no audit row
            session.execute(text("UPDATE leads SET status = status WHERE id = :id"), {"id": lead_id})
            session.execute(
                text("INSERT INTO leads (email, status) VALUES (:email, 'imported') RETURNING id"),
                {"email": "raw-2@example.com"},
            )
            session.execute(text("DELETE FROM leads WHERE email = 'raw-2@example.com'"))

    rows = audit.new_rows()
    assert [r["action"] for r in rows] == ["INSERT", "UPDATE", "INSERT", "DELETE"]
    assert len({r["tx_id"] for r in rows}) == 1
    update = rows[1]
    assert update["record_pk"] == {"id": lead_id}
    assert update["changed_columns"] == ["score"]  # raw SQL: no ORM onupdate for updated_at
    assert (update["old_values"], update["new_values"]) == ({"score": 0}, {"score": 5})
    assert rows[2]["new_values"]["status"] == "imported"
    assert rows[3]["old_values"]["email"] == "raw-2@example.com"
    for row in rows:
        assert_context(row, **dict(ALICE_ROW, request_id="req-raw-sql"))


def test_context_does_not_outlive_its_transaction(sync_db, audit, connection_ip):
    """The engine has one pooled connection: every transaction below runs on it."""
    engine, factory = sync_db
    pid = "SELECT pg_backend_pid()"

    with request_context(**dict(ALICE, request_id="req-leak-1")):
        with factory.begin() as session:
            pids = {session.execute(text(pid)).scalar()}
            assert session.execute(text("SELECT current_setting('lead_audit.request_id')")).scalar() == "req-leak-1"
            lead_id = create_lead(session, "leak@example.com").id

    assert audit_context.get() is None
    with factory.begin() as session:  # no request context
        pids.add(session.execute(text(pid)).scalar())
        assert session.execute(text("SELECT current_setting('lead_audit.actor_id', true)")).scalar() in ("", None)
        update_lead(session, lead_id, status="no-context")

    # a failed transaction leaves nothing behind either
    with request_context(**dict(ALICE, request_id="req-leak-rolled-back")):
        with pytest.raises(RuntimeError):
            with factory.begin() as session:
                pids.add(session.execute(text(pid)).scalar())
                update_lead(session, lead_id, status="rolled-back")
                raise RuntimeError("request failed")

    # nor a plain Connection outside the Session, on the same pooled connection
    with engine.begin() as conn:
        pids.add(conn.execute(text(pid)).scalar())
        conn.execute(text("UPDATE leads SET score = 99 WHERE id = :id"), {"id": lead_id})

    with factory() as session:  # autobegin, then commit
        pids.add(session.execute(text(pid)).scalar())
        update_lead(session, lead_id, score=100)
        session.commit()

    assert len(pids) == 1, "the pool should have reused its single connection"
    created, updated, raw_update, autobegun = audit.for_lead(lead_id)
    assert created["action"] == "INSERT"
    assert_context(created, **dict(ALICE_ROW, request_id="req-leak-1"))
    assert updated["new_values"]["status"] == "no-context"
    assert raw_update["new_values"] == {"score": 99}
    assert autobegun["new_values"]["score"] == 100
    for row in (updated, raw_update, autobegun):
        assert_no_context(row, connection_ip)


def test_invalid_client_ip_fails_the_write(sync_db, audit):
    # The client refuses it where it is made...
    with pytest.raises(ValueError, match="client_ip"):
        AuditContext(client_ip="not-an-ip")
    # ...and the server fails a write that carries it anyway.
    _, factory = sync_db
    with pytest.raises(DBAPIError, match="not an IP address"):
        with factory.begin() as session:
            session.execute(text("SELECT set_config('lead_audit.client_ip', 'not-an-ip', true)"))
            create_lead(session, "bad-ip@example.com")
    assert audit.new_rows() == []
    with factory.begin() as session:
        assert session.query(Lead).filter_by(email="bad-ip@example.com").count() == 0


def test_context_that_is_no_json_object_fails_the_write(sync_db, audit):
    with pytest.raises(ValueError, match="extra"):
        AuditContext(actor_id=1, extra=["not", "an", "object"])  # type: ignore[arg-type]
    _, factory = sync_db
    with pytest.raises(DBAPIError, match="not a JSON object"):
        with factory.begin() as session:
            session.execute(text("""SELECT set_config('lead_audit.context', '["not", "an", "object"]', true)"""))
            create_lead(session, "bad-context@example.com")
    assert audit.new_rows() == []
