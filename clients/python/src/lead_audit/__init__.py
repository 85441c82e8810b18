"""Client side of the lead_audit PostgreSQL extension.

* :mod:`lead_audit.context` (here, standard library only): the request's
  context, a ContextVar and the context managers that set it;
* :mod:`lead_audit.sqlalchemy` (extra ``sqlalchemy``): hands the context to
  the extension, per transaction or per statement;
* :mod:`lead_audit.asgi` (no dependency): a middleware that fills the context
  from each request;
* :mod:`lead_audit.verify` (standard library only; extra ``verify`` to connect
  with psycopg): the independent ledger verifier, ``lead-audit-verify``.
"""

from .context import (
    AuditContext,
    audit_context,
    current_context,
    request_context,
    update_context,
)

__version__ = "0.2.0"

__all__ = [
    "AuditContext",
    "__version__",
    "audit_context",
    "current_context",
    "request_context",
    "update_context",
]
