"""The request's context: who makes a change, from where, in which request.

The web layer (the ASGI middleware in :mod:`lead_audit.asgi`, a task runner, a
script) puts an :class:`AuditContext` in the :data:`audit_context` ContextVar
for the duration of a request; the database integration
(:mod:`lead_audit.sqlalchemy`) hands it to the extension, which records it in
every audit row the request writes. ContextVars belong to one thread or one
asyncio task, so concurrent requests never see each other's context.

Standard library only.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

#: The extension's settings, ``lead_audit.<name>``, in the order it reads them.
SETTING_NAMES = ("actor_id", "client_ip", "user_agent", "request_id", "context")


@dataclass(frozen=True)
class AuditContext:
    """One request's context, as the extension records it.

    ``actor_id``, ``user_agent`` and ``request_id`` become text columns;
    ``client_ip`` an ``inet`` (an IPv4 or IPv6 address, optionally with a
    ``/prefix``); ``extra`` the JSON object in ``audit_log.context``.

    The server fails a write whose context it cannot record (SQLSTATE 22023):
    values it would refuse are refused here already, with a ValueError, where
    the mistake is made rather than at the first write.
    """

    actor_id: str | int | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    extra: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.actor_id, bool) or not isinstance(self.actor_id, (str, int, type(None))):
            raise ValueError(f"actor_id must be a str or an int, not {type(self.actor_id).__name__}")
        if self.client_ip is not None and not is_ip_address(self.client_ip):
            raise ValueError(f"client_ip is not an IP address: {self.client_ip!r}")
        if self.extra is not None:
            if not isinstance(self.extra, Mapping):
                raise ValueError(f"extra must be a mapping (a JSON object), not {type(self.extra).__name__}")
            json.dumps(self.extra)  # TypeError/ValueError now for what JSON cannot hold
        for name, value in self.settings().items():
            if value is not None and "\x00" in value:
                raise ValueError(f"{name} contains a NUL character, which PostgreSQL text cannot hold")

    def settings(self) -> dict[str, str | None]:
        """The value of each ``lead_audit.*`` setting (None: leave it unset)."""
        return {
            "actor_id": None if self.actor_id is None else str(self.actor_id),
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "context": None if self.extra is None else json.dumps(self.extra, ensure_ascii=False),
        }

    def comment(self) -> str:
        """The context as a statement's leading ``/* lead_audit {...} */`` comment.

        Only the values that are set. ``*/`` inside a value would end the
        comment early; JSON may write a slash as ``\\/``, so it does.
        """
        values: dict[str, Any] = {
            k: v for k, v in self.settings().items() if v is not None and k != "context"
        }
        if self.extra is not None:
            values["context"] = self.extra
        body = json.dumps(values, ensure_ascii=False).replace("*/", "*\\/")
        return f"/* lead_audit {body} */ "


def is_ip_address(text: str) -> bool:
    """What ``inet`` takes: an IPv4 or IPv6 address, optionally with ``/prefix``.

    No zone (``%eth0``) and no surrounding spaces: ``inet`` takes neither.
    """
    addr, sep, prefix = text.partition("/")
    if "%" in addr or addr != addr.strip():
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if not sep:
        return True
    return prefix.isdigit() and prefix.isascii() and int(prefix) <= ip.max_prefixlen


#: The current request's context; None outside a request.
audit_context: ContextVar[AuditContext | None] = ContextVar("lead_audit_context", default=None)


def current_context() -> AuditContext | None:
    """The context of the current request (thread or task), or None."""
    return audit_context.get()


@contextmanager
def request_context(context: AuditContext | None = None, **fields: Any) -> Iterator[AuditContext]:
    """Run a block as one request::

        with request_context(actor_id=42, request_id="nightly-import"):
            ...

    The previous context (usually none) is back when the block ends, however it ends.
    """
    if context is None:
        ctx = AuditContext(**fields)
    else:
        ctx = replace(context, **fields) if fields else context
    token = audit_context.set(ctx)
    try:
        yield ctx
    finally:
        audit_context.reset(token)


def update_context(**fields: Any) -> AuditContext:
    """Change fields of the current context for the rest of the request.

    For what is known only later than the middleware runs, such as the user
    an authentication dependency found: ``update_context(actor_id=user.id)``.
    It affects the current thread or task and what it starts afterwards; a
    change made in a worker thread (a sync FastAPI dependency) stays there.
    """
    current = audit_context.get()
    ctx = replace(current, **fields) if current is not None else AuditContext(**fields)
    audit_context.set(ctx)
    return ctx
