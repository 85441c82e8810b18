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

The same router serves the HTML viewer under ``/ui`` (``lead_audit.viewer``),
behind the same ``authorize``.
"""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from lead_audit import trail, viewer
from lead_audit.trail import MAX_LIMIT, AuditedTable, Change, Filters, Page, RecordState, Verification

Authorize = Callable[[Request], bool]

NOT_AUTHORIZED = "not authorized to read the audit trail"

__all__ = ["NOT_AUTHORIZED", "Authorize", "audit_router", "Change", "Page", "AuditedTable", "RecordState", "Verification"]


def _key(key: str) -> dict[str, Any]:
    value = trail.parse_key(key)
    if value is None:
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
    """The read-only router over the audit trail of ``engine``'s database:
    the JSON API, and the HTML viewer under ``/ui``."""

    def allowed(request: Request) -> None:
        if authorize is None or not authorize(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_AUTHORIZED)

    router = APIRouter(dependencies=[Depends(allowed)])
    state = viewer.State()

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

    @router.get("/tables", response_model=list[AuditedTable], tags=["audit"])
    def tables(conn: Conn) -> list[AuditedTable]:
        return trail.tables(conn)

    @router.get("/records/{table}", response_model=list[Change], tags=["audit"])
    def history(conn: Conn, table: str, key: Annotated[str, Query(description="the record's key, JSON")]) -> list[Change]:
        return trail.history(conn, table, _key(key))

    @router.get("/records/{table}/as-of", response_model=RecordState, tags=["audit"])
    def as_of(conn: Conn, table: str, key: str, at: datetime) -> RecordState:
        return trail.as_of(conn, table, _key(key), at)

    @router.get("/changes", response_model=Page, tags=["audit"])
    def changes(conn: Conn, after: After = 0, limit: Limit = 100, table: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                actor_id: str | None = None, request_id: str | None = None) -> Page:
        filters = Filters(table=table, since=since, until=until, actor_id=actor_id, request_id=request_id)
        return trail.changes(conn, filters, after, limit)

    @router.get("/requests/{request_id}", response_model=Page, tags=["audit"])
    def request_changes(conn: Conn, request_id: str, after: After = 0, limit: Limit = 100) -> Page:
        return trail.changes(conn, Filters(request_id=request_id), after, limit)

    @router.get("/transactions/{tx_id}", response_model=Page, tags=["audit"])
    def transaction_changes(conn: Conn, tx_id: int, after: After = 0, limit: Limit = 100) -> Page:
        return trail.changes(conn, Filters(tx_id=tx_id), after, limit)

    @router.get("/attempts", response_model=Page, tags=["audit"])
    def attempts(conn: Conn, after: After = 0, limit: Limit = 100) -> Page:
        return trail.changes(conn, Filters(failed=True), after, limit)

    @router.get("/health", tags=["audit"])
    def health(conn: Conn) -> dict[str, Any]:
        return trail.health(conn)

    @router.get("/verification", response_model=Verification, tags=["audit"])
    def verification() -> Verification:
        return state.verification

    @router.post("/verification", response_model=Verification, tags=["audit"])
    def verify(conn: Conn, x_lead_audit: Annotated[str | None, Header()] = None) -> Verification:
        if x_lead_audit != "verify":
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                "a verification run needs the header X-Lead-Audit: verify")
        return state.run(lambda: trail.verify(conn), trail.log_rows(conn))

    @router.get("/proofs/{audit_id}", response_class=PlainTextResponse, tags=["audit"])
    def proof(conn: Conn, audit_id: int) -> str:
        return trail.proof(conn, audit_id)

    viewer.add_pages(router, connection, state)
    return router
