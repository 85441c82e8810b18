"""The HTML viewer of the audit trail, for people who do not write SQL: pages
under ``/ui`` on the router of ``lead_audit.web``, behind its ``authorize``.

Server-rendered from Jinja2 templates shipped in the package, with one small
stylesheet and one small script (the verification button); no build step.
Templates escape every value (autoescape): the log holds user input, and a
value such as ``<script>`` shows as text. Links between pages are made by
route name, so the viewer works under whatever prefix the router is mounted.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection

from lead_audit import trail
from lead_audit.trail import Change, Filters, Verification

PAGE = 50
REDACTED = "hmac-sha256:"

_env = Environment(loader=PackageLoader("lead_audit", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))


class State:
    """What the viewer remembers between requests: the last verification run,
    whether one is running, and the pace of the last (rows per second), from
    which the page tells how long a run of today's log should take: a run is
    one call of verify_audit(), which reports no progress of its own."""

    def __init__(self) -> None:
        self.verification = Verification(ran_at=None, ok=None, findings=[])
        self.running_since: datetime | None = None
        self.pace: float | None = None
        self._lock = threading.Lock()

    def run(self, verify: Callable[[], Verification], rows: int) -> Verification:
        started = time.monotonic()
        with self._lock:
            self.running_since = datetime.now(timezone.utc)
        try:
            result = verify()
        finally:
            with self._lock:
                self.running_since = None
        seconds = time.monotonic() - started
        if rows > 0 and seconds > 0:
            self.pace = rows / seconds
        self.verification = result
        return result

    def expected_seconds(self, rows: int) -> float | None:
        """How long a run over ``rows`` should take at the last run's pace."""
        return None if self.pace is None else rows / self.pace

    def flagged(self) -> dict[int, str]:
        """Audit ids the last verification found wrong, with the finding."""
        return {f.audit_id: f"{f.status}: {f.detail}" for f in self.verification.findings
                if f.audit_id is not None and f.status != "ok"}


def shown(value: Any) -> dict[str, Any]:
    """How one column's value is shown: redacted, null, text or JSON."""
    if value is None:
        return {"kind": "null", "text": "null"}
    if isinstance(value, str):
        if value.startswith(REDACTED):
            return {"kind": "redacted", "text": "redacted", "title": value}
        return {"kind": "text", "text": value}
    return {"kind": "json", "text": json.dumps(value, ensure_ascii=False)}


def diff(c: Change) -> list[dict[str, Any]]:
    """One row per column of the change: old, new, and whether it changed."""
    old, new = c.old_values or {}, c.new_values or {}
    changed = set(c.changed_columns or [])
    rows = []
    for column in sorted(set(old) | set(new)):
        was, now = old.get(column), new.get(column)
        rows.append({
            "column": column,
            "old": shown(was) if column in old else None,
            "new": shown(now) if column in new else None,
            "changed": column in changed or (c.action == "UPDATE" and column in old and was != now),
        })
    return rows


def _html(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    def url(route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
        base = str(request.url_for(route, **{k: str(v) for k, v in params.items()}))
        clean = {k: v for k, v in (query or {}).items() if v not in (None, "", False)}
        return base + ("?" + urlencode(clean) if clean else "")

    body = _env.get_template(template).render(url=url, diff=diff, shown=shown, **context)
    return HTMLResponse(body, status_code=status_code, headers={
        "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    })


def _when(value: Any) -> str:
    """A time as the pages show it; a value from JSON (text) parsed first."""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()
    return "never" if value is None else str(value)


_env.filters["when"] = _when


def _key_of(c: Change) -> str:
    return json.dumps(c.record_pk, separators=(", ", ": "))


_env.globals["key_of"] = _key_of


def add_pages(router: APIRouter, connection: Callable[[], Iterator[Connection]], state: State) -> None:
    """Adds the viewer's pages to ``router``; ``connection`` is the router's
    dependency that lends a database connection (and maps its errors)."""
    Conn = Annotated[Connection, Depends(connection)]

    @router.get("/ui/static/{file}", include_in_schema=False, name="ui_static")
    def static(file: str) -> Response:
        kinds = {"viewer.css": "text/css", "viewer.js": "text/javascript"}
        if file not in kinds:
            return Response(status_code=404)
        body = resources.files("lead_audit").joinpath("static").joinpath(file).read_bytes()
        return Response(body, media_type=kinds[file], headers={"Cache-Control": "max-age=3600"})

    @router.get("/ui", include_in_schema=False, name="ui_home")
    def home(request: Request, conn: Conn) -> HTMLResponse:
        return _html(request, "home.html", tables=trail.tables(conn), health=trail.health(conn))

    @router.get("/ui/record", include_in_schema=False, name="ui_record")
    def record(request: Request, conn: Conn, table: str, key: str) -> HTMLResponse:
        parsed = trail.parse_key(key)
        if parsed is None:
            return _html(request, "error.html", 400, message='The key is a JSON object, such as {"id": 7}.')
        changes = trail.history(conn, table, parsed)
        return _html(request, "record.html", table=table, key=parsed, changes=changes,
                     flagged=state.flagged())

    @router.get("/ui/changes", include_in_schema=False, name="ui_changes")
    def changes(request: Request, conn: Conn, after: int = Query(0, ge=0),
                table: str | None = None, since: str | None = None, until: str | None = None,
                actor_id: str | None = None, request_id: str | None = None,
                tx_id: int | None = None, failed: bool = False) -> HTMLResponse:
        query = {"table": table, "since": since, "until": until, "actor_id": actor_id,
                 "request_id": request_id, "tx_id": tx_id, "failed": failed}
        try:
            filters = Filters(table=table or None,
                              since=datetime.fromisoformat(since) if since else None,
                              until=datetime.fromisoformat(until) if until else None,
                              actor_id=actor_id or None, request_id=request_id or None,
                              tx_id=tx_id, failed=failed)
        except ValueError:
            return _html(request, "error.html", 400, message="A time is written as 2026-12-07T14:00:00Z.")
        page = trail.changes(conn, filters, after, PAGE)
        title = ("Request " + request_id if request_id else "Transaction " + str(tx_id) if tx_id is not None
                 else "Failed attempts" if failed else "Changes")
        return _html(request, "changes.html", title=title, page=page, query=query,
                     flagged=state.flagged())

    @router.get("/ui/changes/{audit_id}", include_in_schema=False, name="ui_change")
    def one_change(request: Request, conn: Conn, audit_id: int) -> HTMLResponse:
        c = trail.change(conn, audit_id)
        if c is None:
            return _html(request, "error.html", 404, message=f"No change has audit id {audit_id}.")
        return _html(request, "changes.html", title=f"Change {audit_id}",
                     page=trail.Page(items=[c], next_after=None), query={}, flagged=state.flagged())

    @router.get("/ui/ledger", include_in_schema=False, name="ui_ledger")
    def ledger(request: Request, conn: Conn) -> HTMLResponse:
        health = trail.health(conn)
        rows = trail.log_rows(conn, health.get("unsealed_rows"))
        return _html(request, "ledger.html", health=health, checkpoint=trail.checkpoint(conn),
                     verification=state.verification, running_since=state.running_since, rows=rows,
                     expected=state.expected_seconds(rows))
