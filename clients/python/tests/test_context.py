"""The request context: values checked where they are made, scoped to a block,
kept apart between threads and asyncio tasks. No database."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from lead_audit import AuditContext, current_context, request_context, update_context
from lead_audit.context import is_ip_address


def test_settings_are_the_text_the_extension_reads() -> None:
    ctx = AuditContext(actor_id=42, client_ip="2001:db8::1", user_agent="ua", request_id="r-1", extra={"a": [1, "é"]})
    assert ctx.settings() == {
        "actor_id": "42",
        "client_ip": "2001:db8::1",
        "user_agent": "ua",
        "request_id": "r-1",
        "context": '{"a": [1, "é"]}',
    }
    assert AuditContext().settings() == dict.fromkeys(ctx.settings())


def test_the_comment_carries_only_what_is_set_and_cannot_be_closed_early() -> None:
    ctx = AuditContext(actor_id=7, user_agent="curl */ 100%", extra={"x": "*/"})
    comment = ctx.comment()
    assert comment.startswith("/* lead_audit {") and comment.endswith("} */ ")
    body = comment[len("/* lead_audit ") : -len(" */ ")]
    assert "*/" not in body
    assert json.loads(body) == {"actor_id": "7", "user_agent": "curl */ 100%", "context": {"x": "*/"}}


@pytest.mark.parametrize(
    "fields, what",
    [
        ({"client_ip": "not-an-ip"}, "client_ip"),
        ({"client_ip": "10.0.0.1/33"}, "client_ip"),
        ({"client_ip": "fe80::1%eth0"}, "client_ip"),
        ({"client_ip": " 10.0.0.1"}, "client_ip"),
        ({"extra": ["a list"]}, "extra"),
        ({"actor_id": 1.5}, "actor_id"),
        ({"actor_id": True}, "actor_id"),
        ({"user_agent": "nul\x00byte"}, "user_agent"),
        ({"request_id": "\x00"}, "request_id"),
    ],
)
def test_what_the_server_would_refuse_is_refused_here(fields: dict[str, object], what: str) -> None:
    with pytest.raises(ValueError, match=what):
        AuditContext(**fields)  # type: ignore[arg-type]


def test_extra_must_be_json() -> None:
    with pytest.raises(TypeError):
        AuditContext(extra={"when": object()})


@pytest.mark.parametrize(
    "text, ok",
    [("192.0.2.1", True), ("192.0.2.0/24", True), ("::1", True), ("2001:db8::/32", True), ("::/0", True),
     ("192.0.2.1/", False), ("192.0.2.1/+1", False), ("192.0.2.1/٣", False), ("host", False), ("", False)],
)
def test_ip_addresses_as_inet_takes_them(text: str, ok: bool) -> None:
    assert is_ip_address(text) is ok


def test_request_context_is_scoped_and_nests() -> None:
    assert current_context() is None
    with request_context(actor_id=1) as outer:
        assert current_context() is outer
        with request_context(outer, request_id="inner") as inner:
            assert inner.actor_id == 1 and inner.request_id == "inner"
            assert current_context() is inner
        assert current_context() is outer
        with pytest.raises(RuntimeError):
            with request_context(actor_id=2):
                raise RuntimeError("the request failed")
        assert current_context() is outer
    assert current_context() is None


def test_update_context_changes_the_current_one_for_the_rest_of_the_block() -> None:
    with request_context(request_id="r") as ctx:
        updated = update_context(actor_id="later")
        assert current_context() == updated
        assert updated.request_id == "r" and updated.actor_id == "later"
        assert ctx.actor_id is None  # contexts are values: the old one is unchanged
    assert current_context() is None


def test_threads_and_tasks_see_their_own_context() -> None:
    seen: dict[str, object] = {}

    def worker(name: str) -> None:
        with request_context(actor_id=name):
            barrier.wait()
            ctx = current_context()
            seen[name] = ctx.actor_id if ctx else None

    barrier = threading.Barrier(4)
    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {f"t{i}": f"t{i}" for i in range(4)}

    async def task(name: str) -> object:
        with request_context(actor_id=name):
            await asyncio.sleep(0)
            ctx = current_context()
            return ctx.actor_id if ctx else None

    async def all_tasks() -> list[object]:
        return await asyncio.gather(*(task(f"a{i}") for i in range(8)))

    assert asyncio.run(all_tasks()) == [f"a{i}" for i in range(8)]
