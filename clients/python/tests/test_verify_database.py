"""lead-audit-verify, the console script the wheel installs, against a real
cluster: it reads the tables itself (--connect) or COPY files, and its exit
status says intact (0), problems (1) or unusable input (2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from conftest import conninfo

Db = psycopg.Connection[dict[str, object]]


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    # The console script the wheel installed beside this interpreter.
    script = Path(sys.executable).parent / "lead-audit-verify"
    assert script.is_file(), "the wheel installs the console script lead-audit-verify"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)


def test_an_intact_log_verifies_from_the_database_and_from_files(database: str, db: Db, tmp_path: Path) -> None:
    db.execute("INSERT INTO leads (email) SELECT 'v' || g || '@example.com' FROM generate_series(1, 50) g")
    db.execute("SELECT audit_seal()")
    db.execute("INSERT INTO leads (email) VALUES ('unsealed@example.com')")
    digest = db.execute("SELECT audit_digest()::text AS d").fetchone()
    assert digest is not None

    out = verify("--connect", conninfo(database), "--digest", str(digest["d"]))
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.startswith("ok: ") and "not sealed yet" in out.stdout
    in_db = db.execute("SELECT status FROM verify_audit()").fetchall()
    assert [r["status"] for r in in_db] == ["ok"]

    with psycopg.connect(conninfo(database)) as conn:  # the same, from COPY files
        conn.execute("SET DateStyle = ISO")
        for table in ("audit_log", "audit_block"):
            with (tmp_path / table).open("wb") as f, conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    f.write(chunk)
    out_files = verify(str(tmp_path / "audit_log"), str(tmp_path / "audit_block"), "--digest", str(digest["d"]))
    assert (out_files.returncode, out_files.stdout) == (0, out.stdout)


def test_a_rewritten_row_is_found(database: str, db: Db) -> None:
    db.execute("INSERT INTO leads (email) VALUES ('tamper@example.com')")
    db.execute("SELECT audit_seal()")
    victim = db.execute("SELECT max(id) AS id FROM audit_log WHERE action = 'INSERT'").fetchone()
    assert victim is not None
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute("UPDATE audit_log SET actor_id = 'someone else' WHERE id = %s", (victim["id"],))
    try:
        out = verify("--connect", conninfo(database))
        assert out.returncode == 1, out.stderr + out.stdout
        assert f"modified\t{victim['id']}\t" in out.stdout
    finally:
        with db.transaction():
            db.execute("SET LOCAL session_replication_role = replica")
            db.execute("UPDATE audit_log SET actor_id = NULL WHERE id = %s", (victim["id"],))
    assert verify("--connect", conninfo(database)).returncode == 0


def test_unusable_input_exits_2(database: str) -> None:
    no_extension = verify("--connect", conninfo("postgres"))
    assert no_extension.returncode == 2 and "not installed" in no_extension.stderr
    no_server = verify("--connect", "host=127.0.0.1 port=1 connect_timeout=2")
    assert no_server.returncode == 2 and "the database" in no_server.stderr
    assert verify().returncode == 2
    assert verify("a", "b", "--connect", "x").returncode == 2
