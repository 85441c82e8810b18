"""The ASGI middleware, driven by hand-made ASGI calls. No database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest

from lead_audit import AuditContext, current_context, update_context
from lead_audit.asgi import AuditContextMiddleware, header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def scope(headers: dict[str, str] | None = None, client: tuple[str, int] | None = ("192.0.2.10", 5000),
          kind: str = "http") -> Scope:
    return {
        "type": kind,
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "client": client,
    }


async def call(mw: AuditContextMiddleware, s: Scope) -> tuple[AuditContext | None, list[Message]]:
    """Runs one request; returns the context the app saw and what it sent."""
    seen: list[AuditContext | None] = []
    sent: list[Message] = []

    async def app(s: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        seen.append(current_context())
        if s["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    mw.app = app
    await mw(s, receive, send)
    assert current_context() is None, "the context must not outlive the request"
    return seen[0], sent


def run(mw: AuditContextMiddleware, s: Scope) -> tuple[AuditContext | None, list[Message]]:
    return asyncio.run(call(mw, s))


def middleware(**kw: Any) -> AuditContextMiddleware:
    async def unused(s: Scope, r: Any, w: Any) -> None:
        raise AssertionError("replaced by call()")

    return AuditContextMiddleware(unused, **kw)


def test_the_request_fills_the_context() -> None:
    ctx, sent = run(middleware(actor=lambda s: header(s, "x-user-id")),
                    scope({"User-Agent": "Mozilla/5.0", "X-Request-Id": "req-1", "X-User-Id": "u-7"}))
    assert ctx == AuditContext(actor_id="u-7", client_ip="192.0.2.10", user_agent="Mozilla/5.0", request_id="req-1")
    assert (b"x-request-id", b"req-1") in sent[0]["headers"], "the request id goes back to the client"


def test_a_request_id_is_made_when_none_or_a_bad_one_comes() -> None:
    mw = middleware(new_request_id=iter(["gen-1", "gen-2", "gen-3"]).__next__)
    assert run(mw, scope())[0].request_id == "gen-1"  # type: ignore[union-attr]
    assert run(mw, scope({"X-Request-Id": "has space"}))[0].request_id == "gen-2"  # type: ignore[union-attr]
    assert run(mw, scope({"X-Request-Id": "x" * 201}))[0].request_id == "gen-3"  # type: ignore[union-attr]


def test_the_app_s_own_request_id_header_is_kept() -> None:
    mw = middleware()

    async def app(s: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"X-Request-Id", b"mine")]})

    sent: list[Message] = []

    async def send(m: Message) -> None:
        sent.append(m)

    mw.app = app
    asyncio.run(mw(scope({"X-Request-Id": "theirs"}), lambda: asyncio.sleep(0), send))  # type: ignore[arg-type, return-value]
    assert sent[0]["headers"] == [(b"X-Request-Id", b"mine")]


@pytest.mark.parametrize(
    "forwarded, hops, expected",
    [
        ("203.0.113.5", 1, "203.0.113.5"),
        ("198.51.100.1, 203.0.113.5", 1, "203.0.113.5"),  # the address our proxy saw
        ("198.51.100.1, 203.0.113.5", 2, "198.51.100.1"),  # two proxies of ours
        ("203.0.113.5", 2, "192.0.2.10"),  # fewer hops than trusted: the peer
        ("[2001:db8::5]:443", 1, "2001:db8::5"),
        ("203.0.113.5:8080", 1, "203.0.113.5"),
        ("unknown", 1, "192.0.2.10"),  # not an address: the peer, never a failed write
        ("203.0.113.5'; DROP TABLE leads", 1, "192.0.2.10"),
    ],
)
def test_the_client_address_honours_the_trusted_proxy_header(forwarded: str, hops: int, expected: str) -> None:
    mw = middleware(client_ip_header="X-Forwarded-For", trusted_hops=hops)
    assert run(mw, scope({"X-Forwarded-For": forwarded}))[0].client_ip == expected  # type: ignore[union-attr]


def test_the_proxy_header_is_ignored_unless_configured() -> None:
    assert run(middleware(), scope({"X-Forwarded-For": "203.0.113.5"}))[0].client_ip == "192.0.2.10"  # type: ignore[union-attr]


def test_a_peer_that_is_not_an_address_records_none() -> None:
    assert run(middleware(), scope(client=("testclient", 50000)))[0].client_ip is None  # type: ignore[union-attr]
    assert run(middleware(), scope(client=None))[0].client_ip is None  # type: ignore[union-attr]


def test_the_user_agent_is_bounded_and_loses_nul_bytes() -> None:
    ctx = run(middleware(max_user_agent=10), scope({"User-Agent": "a\x00b" + "c" * 50}))[0]
    assert ctx is not None and ctx.user_agent == "ab" + "c" * 8


def test_async_actor_and_extra() -> None:
    async def actor(s: Scope) -> int:
        await asyncio.sleep(0)
        return 99

    ctx = run(middleware(actor=actor, extra=lambda s: {"route": f"{s['method']} {s['path']}"}), scope())[0]
    assert ctx is not None and ctx.actor_id == 99 and ctx.extra == {"route": "GET /"}


def test_lifespan_passes_through_without_a_context() -> None:
    ctx, _ = run(middleware(), {"type": "lifespan"})
    assert ctx is None


def test_websockets_get_a_context_too() -> None:
    ctx, sent = run(middleware(), scope({"X-Request-Id": "ws-1"}, kind="websocket"))
    assert ctx is not None and ctx.request_id == "ws-1" and sent == []


def test_concurrent_requests_keep_their_own_context() -> None:
    async def app(s: Scope, receive: Any, send: Any) -> None:
        me = header(s, "x-user-id")
        update_context(extra={"me": me})  # a later change stays in this request
        for _ in range(5):
            await asyncio.sleep(0)
            ctx = current_context()
            assert ctx is not None and ctx.actor_id == me and ctx.extra == {"me": me}
        await send({"type": "http.response.start", "status": 200, "headers": []})

    mw = AuditContextMiddleware(app, actor=lambda s: header(s, "x-user-id"))

    async def one(i: int) -> None:
        async def send(m: Message) -> None:
            pass

        await mw(scope({"X-User-Id": f"user-{i}"}), lambda: asyncio.sleep(0), send)  # type: ignore[arg-type, return-value]

    async def many() -> None:
        await asyncio.gather(*(one(i) for i in range(16)))
        assert current_context() is None

    asyncio.run(many())


def test_trusted_hops_must_be_positive() -> None:
    with pytest.raises(ValueError):
        middleware(trusted_hops=0)
