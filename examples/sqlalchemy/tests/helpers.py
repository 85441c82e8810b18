"""Assertions and steps shared by the tests."""

from __future__ import annotations

import os
from typing import Any

from lead_service.service import bulk_update_status, create_lead, restore_lead, soft_delete_lead, update_lead

APP_NAME = "lead-service-tests"
DB_USER = os.environ.get("PGUSER", "postgres")


def assert_context(row: dict[str, Any], *, actor_id, client_ip, user_agent, request_id, context=None):
    got = {k: row[k] for k in ("actor_id", "client_ip", "user_agent", "request_id", "context")}
    want = {
        "actor_id": actor_id,
        "client_ip": client_ip,
        "user_agent": user_agent,
        "request_id": request_id,
        "context": context,
    }
    assert got == want, f"audit row {row['id']} ({row['action']}): context {got} != {want}"


def assert_no_context(row: dict[str, Any], connection_ip: str | None):
    """A row written by a transaction that set no context: NULLs, and the connection's address."""
    assert_context(row, actor_id=None, client_ip=connection_ip, user_agent=None, request_id=None)


LEAD_COLUMNS = {
    "id", "email", "full_name", "status", "score", "metadata", "is_deleted", "created_at", "updated_at",
}


class LeadSteps:
    """The steps the concurrency tests' requests take, one lead per user i:
    created and updated (one transaction), soft-deleted (another), then
    restored and bulk-updated (a third). `ids` maps each user to their lead."""

    ACTIONS = [("INSERT", None), ("UPDATE", None), ("UPDATE", "deleted"), ("UPDATE", "restored"), ("UPDATE", None)]

    def __init__(self, name: str):
        self.name = name
        self.ids: dict[int, int] = {}

    def create_and_update(self, session, i: int) -> None:
        lead = create_lead(session, f"{self.name}-{i}@example.com", score=i)
        self.ids[i] = lead.id
        update_lead(session, lead.id, status=f"{self.name}-1-{i}")

    def soft_delete(self, session, i: int) -> None:
        soft_delete_lead(session, self.ids[i])

    def restore_and_bulk_update(self, session, i: int) -> None:
        restore_lead(session, self.ids[i])
        bulk_update_status(session, [self.ids[i]], f"{self.name}-2-{i}")

    def recorded(self, audit, i: int, context_for, connection_ip: str | None) -> list[dict[str, Any]]:
        """User i's lead's audit rows, checked: the five actions in order, the
        context of round "r1" on the first three, and on the last two that of
        round "r2" for even users, none for odd ones (they sent none)."""
        rows = audit.for_lead(self.ids[i])
        assert [(r["action"], r["soft_delete"]) for r in rows] == self.ACTIONS, f"lead of user {i}"
        for row in rows[:3]:
            assert_context(row, **context_for(i, "r1"))
        for row in rows[3:]:
            if i % 2 == 0:
                assert_context(row, **context_for(i, "r2"))
            else:
                assert_no_context(row, connection_ip)
        return rows
