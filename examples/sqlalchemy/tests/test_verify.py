"""Runs last (pytest takes files in name order): the whole history is intact."""

from __future__ import annotations


def test_verify_audit_reports_the_log_intact(audit):
    count = audit.conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"]
    assert count > 0, "the other tests should have written the history checked here"
    rows = audit.conn.execute("SELECT status, audit_id, detail FROM verify_audit()").fetchall()
    assert [r["status"] for r in rows] == ["ok"], rows
