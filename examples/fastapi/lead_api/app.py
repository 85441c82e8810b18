"""The leads API: create, read, update, soft-delete, a lead's history and its
state at any past moment.

The application has no audit code. Two lines hand the request's context to the
database, which records every change (and every failed attempt) itself:

* ``AuditContextMiddleware`` fills the context from each request: the user
  from ``X-User-Id`` (a stand-in for real authentication), the client address
  from the proxy's ``X-Forwarded-For``, the user agent, and the request id from
  ``X-Request-Id`` or a new one, returned in the response;
* ``install_audit_context`` sets it in every transaction a session begins.

The audit trail itself is mounted at ``/audit`` for the application's auditors
(``lead_audit.web``: its JSON API and its viewer at ``/audit/ui``), read through
``audit_url``'s role, ideally one that may only read the log. Who is an
auditor is the application's call: here a stand-in, ``X-Role: auditor``.

Run it with ``uvicorn --factory lead_api.app:app_from_env`` (DATABASE_URL,
default ``postgresql+asyncpg://postgres@127.0.0.1:5494/leads``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Boolean, String, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lead_audit.asgi import AuditContextMiddleware, header
from lead_audit.sqlalchemy import install_audit_context
from lead_audit.web import audit_router


class Base(DeclarativeBase):
    pass


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String, unique=True)
    full_name: Mapped[str | None]
    status: Mapped[str] = mapped_column(String, server_default="new")
    is_deleted: Mapped[bool] = mapped_column(Boolean, server_default="false")


# The schema: the status is checked by the database, so a bad one is a failed
# attempt the log records. audit_enable names the soft-delete column.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS leads (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email text NOT NULL UNIQUE,
        full_name text,
        status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'contacted', 'qualified', 'won', 'lost')),
        is_deleted boolean NOT NULL DEFAULT false)""",
    "SELECT audit_enable('leads', soft_delete_column => 'is_deleted')",
]


class LeadIn(BaseModel):
    email: str
    full_name: str | None = None
    status: str = "new"


class LeadPatch(BaseModel):
    email: str | None = None
    full_name: str | None = None
    status: str | None = None


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    status: str


class Change(BaseModel):
    """One row of the lead's history, as audit_history returns it."""

    audit_id: int
    logged_at: datetime
    action: str
    outcome: str | None
    soft_delete: str | None
    changed_columns: list[str] | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    actor_id: str | None
    client_ip: str | None
    user_agent: str | None
    request_id: str | None
    error: dict[str, Any] | None


HISTORY = text(
    """SELECT id AS audit_id, logged_at, action, outcome, soft_delete, changed_columns,
              old_values, new_values, actor_id, host(client_ip) AS client_ip, user_agent,
              request_id, error
         FROM audit_history('leads', jsonb_build_object('id', CAST(:id AS bigint)))
        WHERE action <> 'DDL'
        ORDER BY id"""
)


AS_OF = text("SELECT audit_row_as_of('leads', jsonb_build_object('id', CAST(:id AS bigint)), :at)")


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns."""
    async with request.app.state.sessions.begin() as s:
        yield s


Session = Annotated[AsyncSession, Depends(session)]


async def live_lead(s: AsyncSession, lead_id: int) -> Lead:
    lead = await s.get(Lead, lead_id)
    if lead is None or lead.is_deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such lead")
    return lead


def is_auditor(request: Request) -> bool:
    return request.headers.get("x-role") == "auditor"


def create_app(database_url: str, *, client_ip_header: str | None = "x-forwarded-for",
               audit_url: str | None = None) -> FastAPI:
    """The application, on the database at ``database_url`` (an asyncpg URL);
    the audit trail read through ``audit_url`` (a psycopg URL; by default the
    same database and role)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(database_url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        install_audit_context(sessions)
        app.state.sessions = sessions
        yield
        await engine.dispose()

    app = FastAPI(title="leads", lifespan=lifespan)
    app.add_middleware(
        AuditContextMiddleware,
        actor=lambda scope: header(scope, "x-user-id"),
        client_ip_header=client_ip_header,
        extra=lambda scope: {"route": f"{scope['method']} {scope['path']}"},
    )

    auditor_engine = create_engine(audit_url or database_url.replace("+asyncpg", "+psycopg", 1))
    app.include_router(audit_router(auditor_engine, authorize=is_auditor), prefix="/audit")

    @app.post("/leads", status_code=status.HTTP_201_CREATED)
    async def create_lead(body: LeadIn, s: Session) -> LeadOut:
        lead = Lead(email=body.email, full_name=body.full_name, status=body.status)
        s.add(lead)
        await _flush(s)
        return LeadOut.model_validate(lead)

    @app.get("/leads")
    async def list_leads(s: Session) -> list[LeadOut]:
        leads = await s.scalars(select(Lead).where(Lead.is_deleted.is_(False)).order_by(Lead.id))
        return [LeadOut.model_validate(lead) for lead in leads]

    @app.get("/leads/{lead_id}")
    async def get_lead(lead_id: int, s: Session) -> LeadOut:
        return LeadOut.model_validate(await live_lead(s, lead_id))

    @app.patch("/leads/{lead_id}")
    async def update_lead(lead_id: int, body: LeadPatch, s: Session) -> LeadOut:
        lead = await live_lead(s, lead_id)
        for name, value in body.model_dump(exclude_unset=True).items():
            setattr(lead, name, value)
        await _flush(s)
        return LeadOut.model_validate(lead)

    @app.delete("/leads/{lead_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_lead(lead_id: int, s: Session) -> Response:
        lead = await live_lead(s, lead_id)
        lead.is_deleted = True  # a soft delete: the log records it as one
        await _flush(s)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/leads/{lead_id}/history")
    async def lead_history(lead_id: int, s: Session) -> list[Change]:
        """Every change to the lead, deleted or not, with who made it, oldest first."""
        rows = (await s.execute(HISTORY, {"id": lead_id})).mappings().all()
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no history for this lead")
        return [Change.model_validate(dict(r)) for r in rows]

    @app.get("/leads/{lead_id}/as-of")
    async def lead_as_of(lead_id: int, at: datetime, s: Session) -> dict[str, Any]:
        """The lead as it was at `at` (an ISO timestamp with its offset), rebuilt
        from the log, deleted or not; 404 when it did not exist then."""
        state = (await s.execute(AS_OF, {"id": lead_id, "at": at})).scalar()
        if state is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "the lead did not exist then")
        return dict(state)

    return app


async def _flush(s: AsyncSession) -> None:
    """Writes now, so that what the database refuses becomes an HTTP error."""
    try:
        await s.flush()
    except DBAPIError as e:
        sqlstate = getattr(e.orig, "sqlstate", None)
        conflict = sqlstate == "23505"  # unique_violation: the email is taken
        code = status.HTTP_409_CONFLICT if conflict else status.HTTP_422_UNPROCESSABLE_CONTENT
        reason = str(e.orig).splitlines()[0] if e.orig is not None else "refused by the database"
        raise HTTPException(code, reason) from None


def app_from_env() -> FastAPI:
    return create_app(os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5494/leads"))
