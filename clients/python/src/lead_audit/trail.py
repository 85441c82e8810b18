"""Reads of the audit trail, shared by the JSON API (``lead_audit.web``) and
the HTML viewer (``lead_audit.viewer``): typed rows and the queries that
fetch them.

Every query binds its values: nothing is built from a caller's strings.
Lists are keyset pages (``after`` the last audit id seen), so a page costs
the same at the end of a log of millions of changes as at its start.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, text

MAX_LIMIT = 1000


class Change(BaseModel):
    """One audit row."""

    audit_id: int
    tx_id: int
    logged_at: datetime
    table_name: str
    action: str
    outcome: str | None
    soft_delete: str | None
    record_pk: Any
    changed_columns: list[str] | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    actor_id: str | None
    client_ip: str | None
    user_agent: str | None
    request_id: str | None
    context: dict[str, Any] | None
    db_user: str | None
    application_name: str | None
    error: dict[str, Any] | None


class Page(BaseModel):
    """A page of changes in audit id order; ``next_after`` continues it."""

    items: list[Change]
    next_after: int | None


class AuditedTable(BaseModel):
    table_name: str
    soft_delete_column: str | None
    truncate_rows: bool
    exclude: list[str]
    redact: list[str]
    full_rows: bool
    stamp: bool
    capturing: bool
    record_key: str


class RecordState(BaseModel):
    table_name: str
    key: dict[str, Any]
    at: datetime
    state: dict[str, Any] | None


class Finding(BaseModel):
    status: str
    audit_id: int | None
    block_id: int | None
    detail: str


class Verification(BaseModel):
    """The last verification this process ran (none yet: ``ran_at`` null)."""

    ran_at: datetime | None
    ok: bool | None
    findings: list[Finding]


class Filters(BaseModel):
    """What a list of changes is narrowed to; every field optional."""

    table: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor_id: str | None = None
    request_id: str | None = None
    tx_id: int | None = None
    failed: bool = False


CHANGE_COLUMNS = """id AS audit_id, tx_id, logged_at, table_name, action, outcome, soft_delete,
    record_pk, changed_columns, old_values, new_values, actor_id, host(client_ip) AS client_ip,
    user_agent, request_id, context, db_user, application_name, error"""


def parse_key(key: str) -> dict[str, Any] | None:
    """A record's key as a request gives it (JSON text), or None unless it is
    a JSON object."""
    try:
        value = json.loads(key)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _change(row: Any) -> Change:
    return Change.model_validate(dict(row._mapping))


def _page(rows: Sequence[Any], limit: int) -> Page:
    items = [_change(r) for r in rows[:limit]]
    return Page(items=items, next_after=items[-1].audit_id if len(rows) > limit else None)


def tables(conn: Connection) -> list[AuditedTable]:
    rows = conn.execute(text(
        "SELECT table_name::text AS table_name, soft_delete_column, truncate_rows, exclude, redact,"
        " full_rows, stamp, capturing, record_key FROM audit_tables ORDER BY 1"))
    return [AuditedTable.model_validate(dict(r._mapping)) for r in rows]


def history(conn: Connection, table: str, key: dict[str, Any]) -> list[Change]:
    """A record's changes, oldest first (``audit_history``)."""
    rows = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_history(CAST(:t AS regclass), CAST(:k AS jsonb))"),
                        {"t": table, "k": json.dumps(key)})
    return [_change(r) for r in rows]


def as_of(conn: Connection, table: str, key: dict[str, Any], at: datetime) -> RecordState:
    state = conn.execute(text("SELECT audit_row_as_of(CAST(:t AS regclass), CAST(:k AS jsonb), :at)"),
                         {"t": table, "k": json.dumps(key), "at": at}).scalar()
    return RecordState(table_name=table, key=key, at=at, state=state)


def changes(conn: Connection, filters: Filters, after: int, limit: int) -> Page:
    """Changes in audit id order after ``after``, narrowed by ``filters``."""
    f = filters
    rows = conn.execute(text(
        f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE id > :after"
        " AND (CAST(:t AS text) IS NULL OR table_oid = CAST(CAST(:t AS text) AS regclass))"
        " AND (CAST(:since AS timestamptz) IS NULL OR logged_at >= CAST(:since AS timestamptz))"
        " AND (CAST(:until AS timestamptz) IS NULL OR logged_at < CAST(:until AS timestamptz))"
        " AND (CAST(:actor AS text) IS NULL OR actor_id = CAST(:actor AS text))"
        " AND (CAST(:req AS text) IS NULL OR request_id = CAST(:req AS text))"
        " AND (CAST(:tx AS bigint) IS NULL OR tx_id = CAST(:tx AS bigint))"
        " AND (NOT :failed OR outcome = 'failed')"
        " ORDER BY id LIMIT :n"),
        {"after": after, "t": f.table, "since": f.since, "until": f.until, "actor": f.actor_id,
         "req": f.request_id, "tx": f.tx_id, "failed": f.failed, "n": limit + 1}).all()
    return _page(rows, limit)


def change(conn: Connection, audit_id: int) -> Change | None:
    row = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE id = :i"), {"i": audit_id}).first()
    return None if row is None else _change(row)


def health(conn: Connection) -> dict[str, Any]:
    row = conn.execute(text("SELECT to_jsonb(s) FROM audit_status s")).scalar()
    return dict(row or {})


class Checkpoint(BaseModel):
    tree_size: int
    signed_at: datetime
    cosignatures: int


def checkpoint(conn: Connection) -> Checkpoint | None:
    """The newest signed checkpoint's size and time, or None before the first."""
    row = conn.execute(text(
        "SELECT c.tree_size, c.signed_at,"
        " (SELECT count(*) FROM audit_cosignature s WHERE s.tree_size = c.tree_size) AS cosignatures"
        " FROM audit_checkpoint c ORDER BY c.tree_size DESC LIMIT 1")).first()
    return None if row is None else Checkpoint.model_validate(dict(row._mapping))


def log_rows(conn: Connection, unsealed: int | None = None) -> int:
    """How many rows a verification reads: the tree's size (every sealed row)
    and the rows not sealed yet (``unsealed``, when the caller has already
    read ``audit_status``); no scan of the log."""
    size = conn.execute(text("SELECT coalesce(max(tree_size), 0) FROM audit_tree")).scalar()
    if unsealed is None:
        unsealed = conn.execute(text("SELECT unsealed_rows FROM audit_status")).scalar()
    return int(size or 0) + int(unsealed or 0)


def verify(conn: Connection) -> Verification:
    rows = conn.execute(text("SELECT status, audit_id, block_id, detail FROM verify_audit()")).all()
    findings = [Finding.model_validate(dict(r._mapping)) for r in rows]
    ran_at = conn.execute(text("SELECT now()")).scalar()
    return Verification(ran_at=ran_at, ok=[f.status for f in findings] == ["ok"], findings=findings)


def proof(conn: Connection, audit_id: int) -> str:
    receipt: str = conn.execute(text("SELECT audit_proof(:i)"), {"i": audit_id}).scalar_one()
    return receipt
