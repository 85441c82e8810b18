"""The audit trail over HTTP: a read-only FastAPI router an application
mounts (``lead_audit.web``; extra ``web``).

    from lead_audit.web import audit_router
    app.include_router(audit_router(engine, authorize=is_auditor), prefix="/audit")

``engine`` is a SQLAlchemy Engine whose role reads the log (``SELECT`` on
``audit_log``; see the README for the auditor role and its grants).
``authorize(request)`` says whether a request may read the trail: without
one, every request is refused (403), so mounting the router exposes nothing
by accident.

Every endpoint reads with bound parameters only: no SQL is built from a
request's strings. Lists are pages by keyset (``after`` the last audit id
seen, ``limit`` rows), never an OFFSET scan over millions of changes. The
one write-like call, running a verification, is a POST that needs the
``X-Lead-Audit`` header, which a cross-site form cannot send. Errors are
JSON with the database's message for bad input, never a stack trace.

JSON endpoints: ``GET /tables``; ``GET /records/{table}?key=`` (a record's
history); ``GET /records/{table}/as-of?key=&at=``; ``GET /changes`` (by
table, time range, actor or request); ``GET /requests/{request_id}``;
``GET /transactions/{tx_id}``; ``GET /attempts`` (failed attempts);
``GET /health``; ``GET /verification`` and ``POST /verification``;
``GET /proofs/{audit_id}`` (a receipt, C2SP tlog-proof).
"""


import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

Authorize = Callable[[Request], bool]

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


CHANGE_COLUMNS = """id AS audit_id, tx_id, logged_at, table_name, action, outcome, soft_delete,
    record_pk, changed_columns, old_values, new_values, actor_id, host(client_ip) AS client_ip,
    user_agent, request_id, context, db_user, application_name, error"""


def _change(row: Any) -> Change:
    return Change.model_validate(dict(row._mapping))


def _page(rows: Sequence[Any], limit: int) -> Page:
    items = [_change(r) for r in rows[:limit]]
    return Page(items=items, next_after=items[-1].audit_id if len(rows) > limit else None)


def _key(key: str) -> dict[str, Any]:
    try:
        value = json.loads(key)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "key is a JSON object, e.g. {\"id\": 7}") from None
    if not isinstance(value, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "key is a JSON object, e.g. {\"id\": 7}")
    return value


# SQLSTATEs of bad input and what they answer.
STATUS_OF = {
    "22004": status.HTTP_400_BAD_REQUEST,
    "22023": status.HTTP_400_BAD_REQUEST,
    "22P02": status.HTTP_400_BAD_REQUEST,
    "22007": status.HTTP_400_BAD_REQUEST,
    "22008": status.HTTP_400_BAD_REQUEST,
    "42P01": status.HTTP_404_NOT_FOUND,
    "P0002": status.HTTP_404_NOT_FOUND,
    "55000": status.HTTP_409_CONFLICT,
    "42501": status.HTTP_403_FORBIDDEN,
}


def audit_router(engine: Engine, authorize: Authorize | None = None) -> APIRouter:
    """The read-only router over the audit trail of ``engine``'s database."""

    def allowed(request: Request) -> None:
        if authorize is None or not authorize(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not authorized to read the audit trail")

    router = APIRouter(dependencies=[Depends(allowed)], tags=["audit"])
    last = Verification(ran_at=None, ok=None, findings=[])

    def connection() -> Iterator[Connection]:
        with engine.connect() as conn:
            try:
                yield conn
            except DBAPIError as e:
                code = getattr(e.orig, "sqlstate", None)
                message = getattr(getattr(e.orig, "diag", None), "message_primary", None)
                if code in STATUS_OF:
                    raise HTTPException(STATUS_OF[code], str(message or "bad request")) from None
                raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "the database could not answer") from None

    Conn = Annotated[Connection, Depends(connection)]
    After = Annotated[int, Query(ge=0, description="the last audit id seen; 0 for the first page")]
    Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]

    @router.get("/tables", response_model=list[AuditedTable])
    def tables(conn: Conn) -> list[AuditedTable]:
        rows = conn.execute(text(
            "SELECT table_name::text AS table_name, soft_delete_column, truncate_rows, exclude, redact,"
            " full_rows, stamp, capturing, record_key FROM audit_tables ORDER BY 1"))
        return [AuditedTable.model_validate(dict(r._mapping)) for r in rows]

    @router.get("/records/{table}", response_model=list[Change])
    def history(conn: Conn, table: str, key: Annotated[str, Query(description="the record's key, JSON")]) -> list[Change]:
        rows = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_history(CAST(:t AS regclass), CAST(:k AS jsonb))"),
                            {"t": table, "k": json.dumps(_key(key))})
        return [_change(r) for r in rows]

    @router.get("/records/{table}/as-of", response_model=RecordState)
    def as_of(conn: Conn, table: str, key: str, at: datetime) -> RecordState:
        k = _key(key)
        state = conn.execute(text("SELECT audit_row_as_of(CAST(:t AS regclass), CAST(:k AS jsonb), :at)"),
                             {"t": table, "k": json.dumps(k), "at": at}).scalar()
        return RecordState(table_name=table, key=k, at=at, state=state)

    @router.get("/changes", response_model=Page)
    def changes(conn: Conn, after: After = 0, limit: Limit = 100, table: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                actor_id: str | None = None, request_id: str | None = None) -> Page:
        rows = conn.execute(text(
            f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE id > :after"
            " AND (CAST(:t AS text) IS NULL OR table_oid = CAST(CAST(:t AS text) AS regclass))"
            " AND (CAST(:since AS timestamptz) IS NULL OR logged_at >= CAST(:since AS timestamptz))"
            " AND (CAST(:until AS timestamptz) IS NULL OR logged_at < CAST(:until AS timestamptz))"
            " AND (CAST(:actor AS text) IS NULL OR actor_id = CAST(:actor AS text))"
            " AND (CAST(:req AS text) IS NULL OR request_id = CAST(:req AS text))"
            " ORDER BY id LIMIT :n"),
            {"after": after, "t": table, "since": since, "until": until, "actor": actor_id,
             "req": request_id, "n": limit + 1}).all()
        return _page(rows, limit)

    @router.get("/requests/{request_id}", response_model=Page)
    def request_changes(conn: Conn, request_id: str, after: After = 0, limit: Limit = 100) -> Page:
        rows = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE request_id = :r AND id > :after"
                                 " ORDER BY id LIMIT :n"), {"r": request_id, "after": after, "n": limit + 1}).all()
        return _page(rows, limit)

    @router.get("/transactions/{tx_id}", response_model=Page)
    def transaction_changes(conn: Conn, tx_id: int, after: After = 0, limit: Limit = 100) -> Page:
        rows = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE tx_id = :x AND id > :after"
                                 " ORDER BY id LIMIT :n"), {"x": tx_id, "after": after, "n": limit + 1}).all()
        return _page(rows, limit)

    @router.get("/attempts", response_model=Page)
    def attempts(conn: Conn, after: After = 0, limit: Limit = 100) -> Page:
        rows = conn.execute(text(f"SELECT {CHANGE_COLUMNS} FROM audit_log WHERE outcome = 'failed' AND id > :after"
                                 " ORDER BY id LIMIT :n"), {"after": after, "n": limit + 1}).all()
        return _page(rows, limit)

    @router.get("/health")
    def health(conn: Conn) -> dict[str, Any]:
        row = conn.execute(text("SELECT to_jsonb(s) FROM audit_status s")).scalar()
        return dict(row or {})

    @router.get("/verification", response_model=Verification)
    def verification() -> Verification:
        return last

    @router.post("/verification", response_model=Verification)
    def verify(conn: Conn, x_lead_audit: Annotated[str | None, Header()] = None) -> Verification:
        if x_lead_audit != "verify":
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                "a verification run needs the header X-Lead-Audit: verify")
        rows = conn.execute(text("SELECT status, audit_id, block_id, detail FROM verify_audit()")).all()
        findings = [Finding.model_validate(dict(r._mapping)) for r in rows]
        last.ran_at = conn.execute(text("SELECT now()")).scalar()
        last.findings = findings
        last.ok = [f.status for f in findings] == ["ok"]
        return last

    @router.get("/proofs/{audit_id}", response_class=PlainTextResponse)
    def proof(conn: Conn, audit_id: int) -> str:
        receipt: str = conn.execute(text("SELECT audit_proof(:i)"), {"i": audit_id}).scalar_one()
        return receipt

    return router
