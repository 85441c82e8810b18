"""The leads API through FastAPI's test client, against a real cluster: every
change lands in the log with the request's context, a lead's history endpoint
shows it, and a write the database refuses is in the log as a failed attempt."""

from __future__ import annotations

import time

import pytest

ALICE = {"X-User-Id": "alice", "X-Forwarded-For": "198.51.100.1, 203.0.113.9", "User-Agent": "pytest/alice"}


def create(client, email: str, headers: dict[str, str] | None = None, **body) -> dict:
    r = client.post("/leads", json={"email": email, **body}, headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


def test_crud_and_the_history_of_a_lead(client, db):
    r = client.post("/leads", json={"email": "ada@example.com", "full_name": "Ada"},
                    headers={**ALICE, "X-Request-Id": "req-create"})
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "req-create"
    lead = r.json()
    assert lead == {"id": lead["id"], "email": "ada@example.com", "full_name": "Ada", "status": "new"}
    url = f"/leads/{lead['id']}"

    r = client.patch(url, json={"status": "contacted"}, headers={"X-User-Id": "bob"})
    assert r.status_code == 200 and r.json()["status"] == "contacted"
    generated = r.headers["x-request-id"]  # none sent: the middleware made one
    assert len(generated) == 36

    assert client.get(url).json()["status"] == "contacted"
    assert client.delete(url, headers={"X-User-Id": "carol"}).status_code == 204
    assert client.get(url).status_code == 404
    assert lead["id"] not in [x["id"] for x in client.get("/leads").json()]

    history = client.get(f"{url}/history").json()
    assert [(h["action"], h["soft_delete"], h["actor_id"]) for h in history] == [
        ("INSERT", None, "alice"),
        ("UPDATE", None, "bob"),
        ("UPDATE", "deleted", "carol"),
    ]
    created, updated, deleted = history
    assert created["new_values"]["email"] == "ada@example.com"
    assert created["client_ip"] == "203.0.113.9"  # what our (one trusted) proxy saw
    assert created["user_agent"] == "pytest/alice"
    assert created["request_id"] == "req-create"
    assert updated["request_id"] == generated
    assert updated["changed_columns"] == ["status"]
    assert (updated["old_values"], updated["new_values"]) == ({"status": "new"}, {"status": "contacted"})
    # The test client's peer ("testclient") is no address: the server records
    # the address of the application's own connection instead.
    assert updated["client_ip"] == db.execute("SELECT host(inet_client_addr()) AS ip").fetchone()["ip"]
    assert all(h["outcome"] == "committed" for h in history)


def test_a_lead_as_it_was(client):
    lead = create(client, "asof@example.com", full_name="Before")
    url = f"/leads/{lead['id']}"
    client.patch(url, json={"full_name": "After", "status": "qualified"})
    created, updated = client.get(f"{url}/history").json()

    def as_of(at: str):
        return client.get(f"{url}/as-of", params={"at": at})

    then = as_of(created["logged_at"]).json()
    assert (then["full_name"], then["status"]) == ("Before", "new")
    now = as_of(updated["logged_at"]).json()
    assert (now["full_name"], now["status"]) == ("After", "qualified")
    assert as_of("2000-01-01T00:00:00+00:00").status_code == 404  # before it existed
    assert as_of("not a time").status_code == 422


def test_the_route_is_recorded_in_the_context(client, db):
    lead = create(client, "route@example.com")
    row = db.execute(
        "SELECT context FROM audit_log WHERE table_name = 'public.leads' AND record_pk = %s::jsonb",
        (f'{{"id": {lead["id"]}}}',),
    ).fetchone()
    assert row["context"] == {"route": "POST /leads"}


def test_a_taken_email_is_a_conflict_and_nothing_is_written(client, db):
    create(client, "taken@example.com")
    before = db.execute("SELECT count(*) AS n FROM leads").fetchone()["n"]
    r = client.post("/leads", json={"email": "taken@example.com"})
    assert r.status_code == 409 and "duplicate key" in r.json()["detail"]
    assert db.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == before


def test_a_refused_update_is_a_failed_attempt_in_the_log(client, db):
    preload = db.execute("SELECT current_setting('shared_preload_libraries') AS v").fetchone()["v"]
    if "lead_audit" not in preload:
        pytest.skip("failed attempts are recorded only with lead_audit in shared_preload_libraries")
    lead = create(client, "refused@example.com")
    r = client.patch(f"/leads/{lead['id']}", json={"status": "bogus"},
                     headers={"X-User-Id": "mallory", "X-Request-Id": "req-bogus"})
    assert r.status_code == 422 and "check constraint" in r.json()["detail"]
    assert client.get(f"/leads/{lead['id']}").json()["status"] == "new"

    failed = []
    for _ in range(100):  # the attempts writer records it just after the rollback
        failed = db.execute(
            "SELECT action, table_name, actor_id, user_agent, error FROM audit_log"
            " WHERE outcome = 'failed' AND request_id = 'req-bogus'"
        ).fetchall()
        if failed:
            break
        time.sleep(0.1)
    [attempt] = failed
    assert (attempt["action"], attempt["table_name"], attempt["actor_id"]) == ("UPDATE", "public.leads", "mallory")
    assert attempt["error"]["sqlstate"] == "23514"


def test_unknown_leads_are_404(client):
    assert client.get("/leads/999999").status_code == 404
    assert client.patch("/leads/999999", json={"status": "won"}).status_code == 404
    assert client.get("/leads/999999/history").status_code == 404


def test_the_audit_trail_is_mounted_for_auditors_only(client):
    lead = create(client, "mounted@example.com", headers={"X-User-Id": "dora"})
    key = '{"id": %d}' % lead["id"]
    assert client.get("/audit/records/leads", params={"key": key}).status_code == 403
    history = client.get("/audit/records/leads", params={"key": key}, headers={"X-Role": "auditor"}).json()
    assert [(h["action"], h["actor_id"]) for h in history] == [("INSERT", "dora")]
    page = client.get("/audit/ui/record", params={"table": "leads", "key": key}, headers={"X-Role": "auditor"})
    assert page.status_code == 200 and "dora" in page.text and "mounted@example.com" in page.text


def test_zz_the_log_verifies(client, db):
    db.execute("SELECT audit_seal()")
    assert [r["status"] for r in db.execute("SELECT status FROM verify_audit()").fetchall()] == ["ok"]
