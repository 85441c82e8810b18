"""`lead-audit serve`: refuses a superuser or a role that may write to an
audited table or the log (unless --allow-writer), refuses a non-loopback
address without a password, and serves the viewer as a read-only role."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from conftest import conninfo
from lead_audit import cli


@pytest.fixture(scope="module")
def roles(database: str) -> str:
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        for role in ("viewer_auditor", "viewer_writer"):
            conn.execute(f"DROP OWNED BY {role}" if conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() else "SELECT 1")
            conn.execute(f"DROP ROLE IF EXISTS {role}")
            conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute("GRANT SELECT ON audit_log, audit_status TO viewer_auditor")
        conn.execute("GRANT SELECT ON audit_log, audit_status TO viewer_writer")
        conn.execute("GRANT UPDATE ON leads TO viewer_writer")
    return database


def dsn(database: str, role: str) -> str:
    host, port = os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5494")
    return f"host={host} port={port} user={role} dbname={database}"


def test_serve_refuses_a_superuser_and_a_writer(roles: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--dsn", dsn(roles, os.environ.get("PGUSER", "postgres"))]) == 2
    assert "superuser" in capsys.readouterr().err
    assert cli.main(["serve", "--dsn", dsn(roles, "viewer_writer")]) == 2
    err = capsys.readouterr().err
    assert "may write to audited tables: leads" in err and "--allow-writer" in err


def test_serve_needs_a_password_off_loopback(roles: str, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ.pop("LEAD_AUDIT_SERVE_PASSWORD", None)
    assert cli.main(["serve", "--dsn", dsn(roles, "viewer_auditor"), "--host", "0.0.0.0"]) == 2
    assert "LEAD_AUDIT_SERVE_PASSWORD" in capsys.readouterr().err


def test_serve_serves_the_viewer_as_a_read_only_role(roles: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "lead_audit.cli", "serve", "--dsn", dsn(roles, "viewer_auditor"),
                             "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
                    body = r.read().decode()
                    assert r.status == 200 and r.url.endswith("/audit/ui")
                    break
            except urllib.error.URLError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the viewer did not start"
                time.sleep(0.2)
        assert "Audited tables" in body and "leads" in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/audit/openapi.json") as r:
            assert "/audit/records/{table}" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(10)
