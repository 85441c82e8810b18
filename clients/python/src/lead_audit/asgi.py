"""ASGI middleware (Starlette, FastAPI, any ASGI app) that fills the context.

No dependency: it speaks ASGI itself. For every HTTP or WebSocket request it
sets :data:`lead_audit.audit_context` from the request before the app runs and
resets it afterwards::

    app.add_middleware(
        AuditContextMiddleware,
        actor=lambda scope: header(scope, "x-user-id"),
        client_ip_header="x-forwarded-for",
    )

What comes from headers is checked before it reaches the database, because a
context the extension cannot record fails the write: an address that is not
one is replaced by the connection's peer address, a request id that is not a
plain token by a generated one, and a user agent is cut to a bounded length.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from .context import AuditContext, audit_context, is_ip_address

__all__ = ["AuditContextMiddleware", "header"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Actor = str | int | None
ActorGetter = Callable[[Scope], "Actor | Awaitable[Actor]"]
ExtraGetter = Callable[[Scope], "Mapping[str, Any] | None"]

# What a request id from a client may be: a visible-ASCII token of sensible length.
_REQUEST_ID = re.compile(r"[!-~]{1,200}")


def header(scope: Scope, name: str) -> str | None:
    """A request header's value (several occurrences joined with ", "), or None.

    ASGI gives header names lower-cased and values as bytes; they are read as
    Latin-1, as HTTP defines them.
    """
    wanted = name.lower().encode("latin-1")
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == wanted]
    return ", ".join(values) if values else None


def _new_request_id() -> str:
    return str(uuid.uuid4())


class AuditContextMiddleware:
    """Sets the request's :class:`~lead_audit.AuditContext` for the app below.

    ``actor``: a callable given the ASGI scope that returns the actor id (or an
    awaitable of it); None records no actor. When the actor is known only
    after authentication inside the app, call
    :func:`lead_audit.update_context` there instead.

    ``client_ip_header``: a header set by a proxy you trust, such as
    ``x-forwarded-for`` or ``x-real-ip``, holding a comma-separated list of
    addresses; each trusted proxy appends the address it saw. The address taken
    is the ``trusted_hops``-th from the right (1: the one your own proxy saw).
    Without it, or when that entry is not an address, the connection's peer
    address. Never configure a header that clients can set past your proxy.

    ``request_id_header``: a request id the client or a proxy sends (kept when
    it is a visible-ASCII token of up to 200 characters); otherwise
    ``new_request_id()`` (a UUID). With ``echo_request_id`` the id goes back
    in the response under the same header, unless the app set it.

    ``extra``: a callable given the scope returning a JSON object for
    ``audit_log.context`` (None for none).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        actor: ActorGetter | None = None,
        client_ip_header: str | None = None,
        trusted_hops: int = 1,
        request_id_header: str = "x-request-id",
        new_request_id: Callable[[], str] = _new_request_id,
        echo_request_id: bool = True,
        extra: ExtraGetter | None = None,
        max_user_agent: int = 512,
    ) -> None:
        if trusted_hops < 1:
            raise ValueError("trusted_hops must be at least 1")
        self.app = app
        self.actor = actor
        self.client_ip_header = client_ip_header
        self.trusted_hops = trusted_hops
        self.request_id_header = request_id_header.lower()
        self.new_request_id = new_request_id
        self.echo_request_id = echo_request_id
        self.extra = extra
        self.max_user_agent = max_user_agent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx = await self.context(scope)
        token = audit_context.set(ctx)
        try:
            if self.echo_request_id and scope["type"] == "http" and ctx.request_id is not None:
                send = self._echoing(send, ctx.request_id)
            await self.app(scope, receive, send)
        finally:
            audit_context.reset(token)

    async def context(self, scope: Scope) -> AuditContext:
        """The context of one request (what the middleware sets)."""
        actor: Any = None
        if self.actor is not None:
            actor = self.actor(scope)
            if inspect.isawaitable(actor):
                actor = await actor
        return AuditContext(
            actor_id=actor,
            client_ip=self.client_ip(scope),
            user_agent=self.user_agent(scope),
            request_id=self.request_id(scope),
            extra=None if self.extra is None else self.extra(scope),
        )

    def client_ip(self, scope: Scope) -> str | None:
        if self.client_ip_header is not None:
            value = header(scope, self.client_ip_header)
            if value is not None:
                hops = [h.strip() for h in value.split(",")]
                if len(hops) >= self.trusted_hops:
                    addr = _strip_port(hops[-self.trusted_hops])
                    if is_ip_address(addr):
                        return addr
        client = scope.get("client")
        if client and isinstance(client[0], str) and is_ip_address(client[0]):
            return client[0]
        return None  # a Unix socket, or a test client's made-up peer

    def user_agent(self, scope: Scope) -> str | None:
        value = header(scope, "user-agent")
        if value is None:
            return None
        return value.replace("\x00", "")[: self.max_user_agent]

    def request_id(self, scope: Scope) -> str:
        value = header(scope, self.request_id_header)
        if value is not None and _REQUEST_ID.fullmatch(value):
            return value
        return self.new_request_id()

    def _echoing(self, send: Send, request_id: str) -> Send:
        name = self.request_id_header.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == name for k, _ in headers):
                    headers.append((name, request_id.encode("latin-1")))
                    message["headers"] = headers
            await send(message)

        return send_with_id


def _strip_port(addr: str) -> str:
    """``[2001:db8::1]:443`` and ``192.0.2.1:80`` without the port, as some proxies write them."""
    if addr.startswith("[") and "]" in addr:
        return addr[1 : addr.index("]")]
    if addr.count(":") == 1:
        return addr.split(":", 1)[0]
    return addr
