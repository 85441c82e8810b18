"""Who is making the change: the request's context, handed to lead_audit.

The web layer (a middleware, a dependency, a task runner) puts an
:class:`AuditContext` in the :data:`audit_context` ContextVar for the duration of
a request; :func:`install_audit_context` makes every transaction a session
begins copy it into the ``lead_audit.*`` settings, where the extension's trigger
reads it. ContextVars are per thread and per asyncio task, so concurrent
requests never see each other's context.

Without a transaction to set it in (autocommit, or a statement-pooling proxy),
:func:`install_comment_context` puts the context in front of each statement
instead, as a ``/* lead_audit {...} */`` comment, which the extension reads when
``lead_audit.comment_context`` is on.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class AuditContext:
    actor_id: str | int | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] | None = None  # recorded in audit_log.context

    def comment(self) -> str:
        """The context as a statement's leading comment (the keys that are set).

        ``*/`` inside a value would end the comment early: JSON may write the
        slash as ``\\/``, so it does.
        """
        values = {k: v for k, v in self.settings().items() if v is not None and k != "context"}
        if self.extra is not None:
            values["context"] = self.extra
        body = json.dumps(values, ensure_ascii=False).replace("*/", "*\\/")
        return f"/* lead_audit {body} */ "

    def settings(self) -> dict[str, str | None]:
        return {
            "actor_id": None if self.actor_id is None else str(self.actor_id),
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "context": None if self.extra is None else json.dumps(self.extra),
        }


audit_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


@contextmanager
def request_context(**fields: Any) -> Iterator[AuditContext]:
    """Run a block as one request: ``with request_context(actor_id=42, ...):``."""
    ctx = AuditContext(**fields)
    token = audit_context.set(ctx)
    try:
        yield ctx
    finally:
        audit_context.reset(token)


# One round trip per transaction. A NULL value resets a setting to its default (unset).
_SET_CONTEXT = text(
    "SELECT set_config('lead_audit.actor_id', :actor_id, true),"
    " set_config('lead_audit.client_ip', :client_ip, true),"
    " set_config('lead_audit.user_agent', :user_agent, true),"
    " set_config('lead_audit.request_id', :request_id, true),"
    " set_config('lead_audit.context', :context, true)"
)


def install_audit_context(
    target: sessionmaker | async_sessionmaker | type[Session],
    get_context: Callable[[], AuditContext | None] = audit_context.get,
) -> None:
    """Give lead_audit the request's context at the start of every transaction.

    ``target`` is a ``sessionmaker``, a ``Session`` subclass or an
    ``async_sessionmaker``. On each Session "after_begin" event (the session has
    just begun a transaction on a connection, before its first statement), the
    listener runs ``set_config('lead_audit.<name>', value, true)`` for the
    context that ``get_context()`` returns; nothing when it returns None.

    Why ``set_config(..., true)``, i.e. ``SET LOCAL``: the settings last until
    that transaction commits or rolls back, then PostgreSQL forgets them. A
    pooled connection is therefore never handed to the next request with the
    previous user's identity, even when a request fails halfway, and no reset
    is needed on check-in. A plain ``SET`` (session-scoped) would leak.
    """
    if isinstance(target, async_sessionmaker):
        # An AsyncSession drives a plain Session, whose events fire in the async
        # engine's greenlet. Give this factory its own Session subclass so the
        # listener applies to its sessions only.
        base = target.kw.get("sync_session_class") or target.class_.sync_session_class
        target.configure(sync_session_class=type(f"Audited{base.__name__}", (base,), {}))
        target = target.kw["sync_session_class"]

    @event.listens_for(target, "after_begin")
    def set_audit_context(session: Session, transaction: Any, connection: Any) -> None:
        ctx = get_context()
        if ctx is not None:
            connection.execute(_SET_CONTEXT, ctx.settings())


def install_comment_context(
    engine: Engine,
    get_context: Callable[[], AuditContext | None] = audit_context.get,
) -> None:
    """Prefix every statement ``engine`` runs with the request's context as a
    ``/* lead_audit {...} */`` comment (nothing when ``get_context()`` returns None).

    For connections in autocommit mode, or behind a proxy that pools by
    statement: there is no transaction to ``SET LOCAL`` in, and a session-wide
    ``SET`` would leak to whoever uses the connection next. The comment
    travels with its statement. The server reads it only with
    ``lead_audit.comment_context = on`` (for instance ``ALTER ROLE app SET
    lead_audit.comment_context = on``); a context it cannot record fails the
    write, as a bad setting does.
    """
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(target, "before_cursor_execute", retval=True)
    def add_comment(conn, cursor, statement, parameters, context, executemany):
        ctx = get_context()
        if ctx is None:
            return statement, parameters
        comment = ctx.comment()
        # With parameters, "format"/"pyformat" drivers (psycopg) read % as a
        # placeholder: a literal one is written %%.
        if parameters and conn.dialect.paramstyle in ("format", "pyformat"):
            comment = comment.replace("%", "%%")
        return comment + statement, parameters
