"""SQLAlchemy 2 integration (``pip install 'lead-audit[sqlalchemy]'``).

Two ways to hand the request's context to the extension:

* :func:`install_audit_context`: at the start of every transaction a session
  begins, one ``set_config('lead_audit.<name>', value, true)`` round trip
  (``SET LOCAL``). Sync and async sessions. The usual choice.
* :func:`install_comment_context`: every statement an engine runs gets the
  context as a leading ``/* lead_audit {...} */`` comment, which the extension
  reads when ``lead_audit.comment_context`` is on. For autocommit connections
  and statement-pooling proxies, where there is no transaction to set it in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from .context import AuditContext, audit_context

__all__ = ["install_audit_context", "install_comment_context"]

ContextGetter = Callable[[], "AuditContext | None"]

# One round trip per transaction. A NULL value resets a setting to its default (unset).
_SET_CONTEXT = text(
    "SELECT set_config('lead_audit.actor_id', :actor_id, true),"
    " set_config('lead_audit.client_ip', :client_ip, true),"
    " set_config('lead_audit.user_agent', :user_agent, true),"
    " set_config('lead_audit.request_id', :request_id, true),"
    " set_config('lead_audit.context', :context, true)"
)


def install_audit_context(
    target: sessionmaker[Any] | async_sessionmaker[Any] | type[Session],
    get_context: ContextGetter = audit_context.get,
) -> None:
    """Give lead_audit the request's context at the start of every transaction.

    ``target`` is a ``sessionmaker``, a ``Session`` subclass or an
    ``async_sessionmaker``. On each Session "after_begin" event (the session
    has just begun a transaction on a connection, before its first statement)
    the listener sets the ``lead_audit.*`` settings from ``get_context()``;
    nothing when it returns None.

    Why ``set_config(..., true)``, i.e. ``SET LOCAL``: the settings last until
    that transaction ends, then PostgreSQL forgets them. A pooled connection
    (or a server connection behind PgBouncer in transaction mode) is never
    handed to the next request with the previous user's identity, even when a
    request fails halfway, and nothing needs resetting on check-in. A plain
    ``SET`` would leak.
    """
    if isinstance(target, async_sessionmaker):
        # An AsyncSession drives a plain Session, whose events fire in the async
        # engine's greenlet. Give this factory its own Session subclass so the
        # listener applies to its sessions only.
        base: type[Session] = target.kw.get("sync_session_class") or target.class_.sync_session_class
        target.configure(sync_session_class=type(f"Audited{base.__name__}", (base,), {}))
        target = target.kw["sync_session_class"]

    def set_audit_context(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
        ctx = get_context()
        if ctx is not None:
            connection.execute(_SET_CONTEXT, ctx.settings())

    event.listen(target, "after_begin", set_audit_context)


def install_comment_context(
    engine: Engine | AsyncEngine,
    get_context: ContextGetter = audit_context.get,
) -> None:
    """Prefix every statement ``engine`` runs with the request's context as a
    ``/* lead_audit {...} */`` comment (nothing when ``get_context()`` returns None).

    The server reads it only with ``lead_audit.comment_context = on`` (for
    instance ``ALTER ROLE app SET lead_audit.comment_context = on``); a
    context it cannot record fails the write, as a bad setting does.
    """
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    def add_comment(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> tuple[str, Any]:
        ctx = get_context()
        if ctx is None:
            return statement, parameters
        comment = ctx.comment()
        # "format"/"pyformat" drivers (psycopg) read % as a placeholder whenever
        # they are given parameters, even none: a literal one is written %%.
        # Only a statement run with the no_parameters option reaches the
        # driver without them.
        no_parameters = context is not None and context.no_parameters
        if conn.dialect.paramstyle in ("format", "pyformat") and not no_parameters:
            comment = comment.replace("%", "%%")
        return comment + statement, parameters

    event.listen(target, "before_cursor_execute", add_comment, retval=True)
