"""The audit router (lead_audit.web) against a real cluster, through
FastAPI's test client: deny by default, every endpoint's answer, keyset
pages, bad input as 4xx with the database's message, and a verification run
that needs its header."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from conftest import url
from lead_audit.web import audit_router

Db = psycopg.Connection[dict[str, object]]


@pytest.fixture
def client(database: str) -> Iterator[TestClient]:
    engine = create_engine(url("psycopg", database))
    app = FastAPI()
    app.include_router(audit_router(engine, authorize=lambda r: r.headers.get("x-auditor") == "yes"),
                       prefix="/audit")
    with TestClient(app, headers={"x-auditor": "yes"}) as c:
        yield c
    engine.dispose()


def test_without_authorize_every_request_is_refused(database: str) -> None:
    engine = create_engine(url("psycopg", database))
    app = FastAPI()
    app.include_router(audit_router(engine), prefix="/audit")
    with TestClient(app) as c:
        for path in ("/audit/tables", "/audit/changes", "/audit/health"):
            assert c.get(path).status_code == 403
    engine.dispose()


def test_a_request_the_callable_refuses_is_403(client: TestClient) -> None:
    assert client.get("/audit/tables", headers={"x-auditor": "no"}).status_code == 403


def test_tables_history_and_as_of(client: TestClient, db: Db) -> None:
    db.execute("INSERT INTO leads (id, email, status) VALUES (7001, 'web@example.com', 'new')")
    db.execute("UPDATE leads SET status = 'won' WHERE id = 7001")
    tables = client.get("/audit/tables").json()
    assert [t["table_name"] for t in tables] == ["leads"] and tables[0]["record_key"] == "primary key"
    history = client.get("/audit/records/leads", params={"key": '{"id": 7001}'}).json()
    assert [h["action"] for h in history] == ["INSERT", "UPDATE"]
    assert history[1]["old_values"] == {"status": "new"} and history[1]["new_values"] == {"status": "won"}
    at = client.get("/audit/records/leads/as-of", params={"key": '{"id": 7001}', "at": "2999-01-01T00:00:00Z"})
    assert at.status_code == 200 and at.json()["state"]["status"] == "won"


def test_changes_are_keyset_pages(client: TestClient, db: Db) -> None:
    db.execute("INSERT INTO leads (email) SELECT 'page' || g || '@example.com' FROM generate_series(1, 25) g")
    seen: list[int] = []
    after = 0
    while True:
        page = client.get("/audit/changes", params={"table": "leads", "after": after, "limit": 10}).json()
        seen += [c["audit_id"] for c in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == sorted(set(seen)) and len(seen) >= 25
    assert client.get("/audit/changes", params={"limit": 0}).status_code == 422


def test_requests_transactions_attempts_health_and_proofs(client: TestClient, db: Db) -> None:
    with db.transaction():
        db.execute("SET LOCAL lead_audit.request_id = 'web-req-1'")
        db.execute("INSERT INTO leads (email) VALUES ('req@example.com')")
    by_request = client.get("/audit/requests/web-req-1").json()["items"]
    assert [c["request_id"] for c in by_request] == ["web-req-1"]
    tx = by_request[0]["tx_id"]
    assert [c["audit_id"] for c in client.get(f"/audit/transactions/{tx}").json()["items"]] == \
        [by_request[0]["audit_id"]]
    assert client.get("/audit/attempts").status_code == 200
    assert "unsealed_rows" in client.get("/audit/health").json()
    # No signing key on this cluster: a receipt is not ready (409), an unknown row 404.
    assert client.get("/audit/proofs/999999999").status_code == 404


def test_bad_input_is_a_4xx_with_the_reason(client: TestClient) -> None:
    r = client.get("/audit/records/no_such_table", params={"key": '{"id": 1}'})
    assert r.status_code == 404 and "no_such_table" in r.json()["detail"]
    assert client.get("/audit/records/leads", params={"key": "[1]"}).status_code == 400
    assert client.get("/audit/records/leads", params={"key": "{"}).status_code == 400


def test_a_verification_run_needs_its_header(client: TestClient) -> None:
    assert client.get("/audit/verification").json()["ran_at"] is None
    assert client.post("/audit/verification").status_code == 400
    ran = client.post("/audit/verification", headers={"x-lead-audit": "verify"}).json()
    assert ran["ok"] is True and ran["findings"][0]["status"] == "ok"
    assert client.get("/audit/verification").json()["ok"] is True
