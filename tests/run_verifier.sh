#!/usr/bin/env bash
# The independent verifier (tools/verify_ledger.py, Python standard library
# only) must agree with verify_audit(): on an intact ledger, after each kind
# of tampering, and on a kept digest.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${LEAD_AUDIT_VERIFIER_PORT:-5495}
DIR=${LEAD_AUDIT_VERIFIER_DIR:-/tmp/lead_audit_verifier}
WORK=$(mktemp -d)
export PGOPTIONS="-c client_min_messages=warning" PGTZ=UTC PGDATESTYLE=ISO
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
passed=0
failed=0
check() { # name, command...
    local name=$1
    shift
    if "$@"; then echo "PASS $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

python3 -m unittest discover -s tools -p 'test_*.py'

scripts/pgcluster.sh destroy "$DIR"
trap 'scripts/pgcluster.sh destroy "$DIR"; rm -rf "$WORK"' EXIT
scripts/pgcluster.sh start "$DIR" "$PORT"

q <<'SQL' >/dev/null
CREATE EXTENSION lead_audit;
CREATE TABLE leads (
    id int PRIMARY KEY, note text, doc jsonb, price numeric(12,3), seen timestamptz,
    tags text[], is_deleted boolean NOT NULL DEFAULT false);
SELECT audit_enable('leads');
SET application_name = 'verifier "test"';
BEGIN;
SET LOCAL lead_audit.actor_id = 'ädmin	tab';
SET LOCAL lead_audit.client_ip = '2001:db8::7';
SET LOCAL lead_audit.user_agent = E'Agent\\with\\backslashes\nand a newline';
SET LOCAL lead_audit.request_id = 'req-1';
SET LOCAL lead_audit.context = '{"route": "POST /leads", "quote": "say \"hi\"", "n": [1, 2.50, null]}';
INSERT INTO leads VALUES
  (1, E'tab\there', '{"a": {"b": [1, "x\\y", true]}, "e": ""}', 12.5, '2026-01-02 03:04:05.678+02', '{a,"b c"}'),
  (2, 'ünïcødé ✓ 😀', '"just a string"', -0.001, NULL, '{}'),
  (3, NULL, NULL, NULL, '1999-12-31 23:59:59.999999+00', NULL);
COMMIT;
BEGIN;
SET LOCAL lead_audit.client_ip = '10.1.2.0/24';
UPDATE leads SET note = E'line1\nline2', price = price * 2 WHERE id = 1;
UPDATE leads SET is_deleted = true WHERE id = 2;
COMMIT;
DELETE FROM leads WHERE id = 3;
SELECT count(*) FROM audit_seal();
INSERT INTO leads (id, note) SELECT g, 'bulk ' || g FROM generate_series(10, 60) g;
SELECT count(*) FROM audit_seal();
TRUNCATE leads;
INSERT INTO leads (id, note) VALUES (100, 'after the last seal');
SQL

dump() { # name
    q -c "COPY audit_log TO STDOUT" >"$WORK/$1.log"
    q -c "COPY audit_block TO STDOUT" >"$WORK/$1.block"
}
# The findings' (status, audit_id, block_id), one per line, sorted: from SQL...
sql_findings() { q -F $'\t' -c "SELECT status, coalesce(audit_id::text, ''), coalesce(block_id::text, '') FROM verify_audit($1) WHERE status <> 'ok'" | sort; }
# ...and from the verifier (its last line is the summary).
py_findings() { # name [--digest D]
    local name=$1
    shift
    python3 tools/verify_ledger.py "$WORK/$name.log" "$WORK/$name.block" "$@" >"$WORK/$name.out" || echo $? >"$WORK/$name.rc"
    sed '$d' "$WORK/$name.out" | cut -f1-3 | sort
}
same() { diff <(sql_findings "$1") <(py_findings "${@:2}"); }
exit_code() { [ "$(cat "$WORK/$1.rc" 2>/dev/null || echo 0)" = "$2" ]; }

dump intact
check "intact ledger: verify_audit and the verifier agree" same "" intact
check "intact ledger: the verifier says ok (exit 0)" exit_code intact 0
tail -1 "$WORK/intact.out"

digest=$(q -c "SELECT audit_digest()")
# Block 1 holds audit rows 1-6 (the first three transactions); tamper with them,
# then drop the newest block and re-seal (only the digest can tell), then edit
# block 1's hash (the link from the re-sealed block 2 breaks).
q <<'SQL' >/dev/null
SET session_replication_role = replica;
UPDATE audit_log SET new_values = new_values || '{"note": "rewritten"}' WHERE id = 2;
DELETE FROM audit_log WHERE id = 5;
INSERT INTO audit_log SELECT 9000, tx_id, logged_at, table_oid, table_name, action, soft_delete, record_pk,
       old_values, new_values, changed_columns, 'forger', client_ip, user_agent, request_id, context, db_user,
       application_name, checksum FROM audit_log WHERE id = 1;
UPDATE audit_log SET id = -1 WHERE id = 3;
UPDATE audit_log SET id = 3 WHERE id = 4;
UPDATE audit_log SET id = 4 WHERE id = -1;
DELETE FROM audit_block WHERE id = (SELECT max(id) FROM audit_block);
RESET session_replication_role;
SELECT count(*) FROM audit_seal();
SET session_replication_role = replica;
UPDATE audit_block SET block_hash = sha256('forged') WHERE id = 1;
SQL
dump tampered
check "tampered ledger: the same findings from both" same "'$digest'" tampered --digest "$digest"
check "tampered ledger: the verifier exits 1" exit_code tampered 1
for status in modified deleted forged moved block_modified broken_link digest_mismatch; do
    check "tampered ledger: the verifier reports $status" grep -q "^$status"$'\t' "$WORK/tampered.out"
done

echo "verifier: $passed passed, $failed failed"
[ "$failed" = 0 ]
