"""The viewer's pages on the bench's history log: the server time of a
record's timeline page and of a table's change list page (lead_audit.web,
rendered in this process, so the time is the server's: the queries and the
HTML, no network or browser).

    python viewer_probe.py CONNINFO KEYS

Prints "timeline_ms changes_ms ok": medians over 50 random records and 50
random pages, and whether every timeline page showed its record's changes
and every list page a full page.
"""

import random
import statistics
import sys
import time
import warnings

import psycopg
from fastapi import FastAPI

with warnings.catch_warnings():  # Starlette's notice about its test client's HTTP library
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from lead_audit.web import audit_router


def main() -> None:
    conninfo, keys = sys.argv[1], int(sys.argv[2])
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo))
    app = FastAPI()
    app.include_router(audit_router(engine, authorize=lambda r: True), prefix="/audit")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT max(id) FROM audit_log").fetchone()
        last = int(row[0]) if row and row[0] is not None else 0
    rng = random.Random(42)
    ok = True
    timeline: list[float] = []
    changes: list[float] = []
    with TestClient(app) as client:
        client.get("/audit/ui/record", params={"table": "leads", "key": '{"id": 1}'})  # warm the pool
        for _ in range(50):
            k = rng.randrange(1, keys)
            t0 = time.perf_counter()
            r = client.get("/audit/ui/record", params={"table": "leads", "key": '{"id": %d}' % k})
            timeline.append((time.perf_counter() - t0) * 1000)
            ok = ok and r.status_code == 200 and r.text.count('class="change') >= 1
            after = rng.randrange(0, max(1, last - 100))
            t0 = time.perf_counter()
            r = client.get("/audit/ui/changes", params={"table": "leads", "after": after})
            changes.append((time.perf_counter() - t0) * 1000)
            ok = ok and r.status_code == 200 and r.text.count('data-audit-id="') == 50
    print(f"{statistics.median(timeline):.2f} {statistics.median(changes):.2f} {str(ok).lower()}")


if __name__ == "__main__":
    main()
