"""Assertions shared by the tests."""

from __future__ import annotations

import os
from typing import Any

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
