#!/usr/bin/env bash
# Failed attempts: with lead_audit in shared_preload_libraries, a write to an
# audited table whose transaction or savepoint aborts leaves one audit row
# (outcome 'failed') with its error, written by the attempts writer after the
# abort, checksummed and sealed like every row.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PORT=${LEAD_AUDIT_ATTEMPTS_PORT:-5490}
cluster "${LEAD_AUDIT_ATTEMPTS_DIR:-/tmp/lead_audit_attempts}" "$PORT" \
    -c shared_preload_libraries=lead_audit -c lead_audit.seal_database=attempts \
    -c lead_audit.seal_interval=1
q -c "CREATE DATABASE attempts" && q -c "CREATE DATABASE other"
export DB=attempts

q <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id int PRIMARY KEY, email text NOT NULL);
CREATE ROLE app LOGIN;
CREATE ROLE intruder LOGIN;
GRANT USAGE ON SCHEMA public TO app, intruder;
GRANT SELECT, INSERT, UPDATE ON leads TO app;
INSERT INTO leads VALUES (1, 'one');
SQL
notices=$(PGOPTIONS="-c client_min_messages=notice" q -c "SELECT audit_enable('leads')" 2>&1)
check "audit_enable is silent when failed attempts are recorded" "" "$(grep -o 'will not be recorded' <<<"$notices" || true)"

failed() { q -c "SELECT count(*) FROM audit_log WHERE outcome = 'failed'"; }
# Waits (at most 20 s) until N failed attempts are in the log.
wait_failed() {
    for _ in $(seq 1 80); do
        [ "$(failed)" -ge "$1" ] && return 0
        sleep 0.25
    done
}
# The error of the newest failed row, one field.
last() { q -c "SELECT $1 FROM audit_log WHERE outcome = 'failed' ORDER BY id DESC LIMIT 1"; }
n=0

# 1. An error mid-transaction: the failing statement and the earlier one.
q -c "BEGIN; SET LOCAL lead_audit.actor_id = 'u-7'; INSERT INTO leads VALUES (2, 'two'); INSERT INTO leads VALUES (1, 'dup'); COMMIT;" 2>/dev/null || true
n=$((n + 2)); wait_failed $n
check "an aborted transaction leaves one failed row per statement" 2 "$(failed)"
check "both carry the error and the actor" "23505|u-7
23505|u-7" "$(q -c "SELECT error->>'sqlstate', actor_id FROM audit_log WHERE outcome = 'failed' ORDER BY id")"
check "the earlier statement lists the row it had captured" '[{"id": 2}]|1' \
    "$(q -c "SELECT error->'rows', error->'row_count' FROM audit_log WHERE outcome = 'failed' ORDER BY id LIMIT 1")"
check "the failing statement's text and detail" "INSERT INTO leads VALUES (1, 'dup')|Key (id)=(1) already exists." \
    "$(q -c "SELECT error->>'statement', error->>'detail' FROM audit_log WHERE outcome = 'failed' ORDER BY id DESC LIMIT 1")"
check "no committed row for what never committed" 0 \
    "$(q -c "SELECT count(*) FROM audit_log WHERE outcome = 'committed' AND record_pk = '{\"id\": 2}'")"

# 2. A savepoint rolled back after an error; the outer transaction commits.
q -v ON_ERROR_STOP=0 <<'SQL' 2>/dev/null
BEGIN;
INSERT INTO leads VALUES (3, 'three');
SAVEPOINT s;
UPDATE leads SET email = NULL WHERE id = 3;
ROLLBACK TO s;
INSERT INTO leads VALUES (4, 'four');
COMMIT;
SQL
n=$((n + 1)); wait_failed $n
check "the inner attempt failed" "UPDATE|23502" "$(last "action || '|' || (error->>'sqlstate')")"
check "the outer rows committed" "2" \
    "$(q -c "SELECT count(*) FROM audit_log WHERE outcome = 'committed' AND record_pk IN ('{\"id\": 3}', '{\"id\": 4}')")"

# 3. An error caught by PL/pgSQL: recorded, its code unknown.
q -c "DO \$\$ BEGIN INSERT INTO leads VALUES (1, 'x'); EXCEPTION WHEN unique_violation THEN NULL; END \$\$"
n=$((n + 1)); wait_failed $n
check "an error handled in the session is recorded as such" "error handled in the session|" \
    "$(last "(error->>'reason') || '|' || coalesce(error->>'sqlstate', '')")"

# 4. A plain ROLLBACK (or ROLLBACK TO) is recorded only when asked for.
q -c "BEGIN; DELETE FROM leads WHERE id = 4; ROLLBACK;"
q -c "BEGIN; SAVEPOINT s; DELETE FROM leads WHERE id = 4; ROLLBACK TO s; COMMIT;"
q -c "BEGIN; SET LOCAL lead_audit.record_rollback = on; DELETE FROM leads WHERE id = 4; ROLLBACK;"
n=$((n + 1)); wait_failed $n; sleep 1
check "only the ROLLBACK asked for is recorded" "$n|rollback|DELETE" "$(failed)|$(last "error->>'reason'")|$(last action)"

# 5. A permission error: who tried.
psql -X -q -h 127.0.0.1 -p "$PORT" -U intruder -d attempts -c "INSERT INTO leads VALUES (9, 'z')" 2>/dev/null || true
psql -X -q -h 127.0.0.1 -p "$PORT" -U intruder -d attempts -c "TRUNCATE leads" 2>/dev/null || true
n=$((n + 2)); wait_failed $n
check "permission errors record who tried" "INSERT|intruder|42501
TRUNCATE|intruder|42501" \
    "$(q -c "SELECT action, db_user, error->>'sqlstate' FROM audit_log WHERE outcome = 'failed' ORDER BY id DESC LIMIT 2" | sort)"

# 6. COPY that fails on its third line.
printf '10\tten\n11\televen\n1\tdup\n' >/tmp/lead_audit_attempts.copy
chmod 644 /tmp/lead_audit_attempts.copy
q -c "\\copy leads FROM '/tmp/lead_audit_attempts.copy'" 2>/dev/null || true
n=$((n + 1)); wait_failed $n
check "a failed COPY is an attempt" "INSERT|23505" "$(last "action || '|' || (error->>'sqlstate')")"

# 7. Statement texts can be kept out.
q -c "SET lead_audit.record_statement = off; INSERT INTO leads VALUES (1, 'secret');" 2>/dev/null || true
n=$((n + 1)); wait_failed $n
check "no statement text when record_statement is off" "t" "$(last "error->'statement' IS NULL")"

# 7b. What a session knows of a table (audited or not, its name) is kept
# between statements, and dropped when the table or its schema changes: one
# session fails a write, renames the table, then its schema, then turns
# auditing off, failing the same write after each step.
q >/dev/null <<'SQL'
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id int PRIMARY KEY, v int NOT NULL);
SELECT audit_enable('crm.deals');
SQL
q -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<'SQL'
INSERT INTO crm.deals VALUES (1, NULL);
ALTER TABLE crm.deals RENAME TO big_deals;
INSERT INTO crm.big_deals VALUES (1, NULL);
ALTER SCHEMA crm RENAME TO sales;
INSERT INTO sales.big_deals VALUES (1, NULL);
SELECT audit_disable('sales.big_deals');
INSERT INTO sales.big_deals VALUES (1, NULL);
SELECT audit_enable('sales.big_deals');
INSERT INTO sales.big_deals VALUES (1, NULL);
SQL
n=$((n + 4)); wait_failed $n; sleep 1
check "a renamed table or schema is recorded under its new name; a table no longer audited is not" \
    "$n|crm.deals,crm.big_deals,sales.big_deals,sales.big_deals" \
    "$(failed)|$(q -c "SELECT string_agg(table_name, ',' ORDER BY id) FROM audit_log
                       WHERE outcome = 'failed' AND table_name LIKE '%deals'")"

# A partitioned table: the rows each partition captured count on the statement
# that named the parent (one record per statement, with its keys).
q >/dev/null <<'SQL'
CREATE TABLE parted (id int PRIMARY KEY, v text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (100) TO (200);
SELECT audit_enable('parted');
SQL
q -c "BEGIN; INSERT INTO parted VALUES (1, 'a'), (150, 'b'); INSERT INTO parted VALUES (2, NULL); COMMIT;" 2>/dev/null || true
n=$((n + 2)); wait_failed $n; sleep 0.5
check "a failed write to a partitioned table is one record per statement, with the partitions' keys" \
    "$n|public.parted|2|[{\"id\": 1}, {\"id\": 150}]" \
    "$(failed)|$(q -c "SELECT table_name, error->'row_count', error->'rows' FROM audit_log
                       WHERE outcome = 'failed' AND table_name LIKE 'public.parted%' ORDER BY id LIMIT 1")"

# Only a superuser can turn tracking off (lead_audit.record_attempts).
q -c "SET lead_audit.record_attempts = off; INSERT INTO leads VALUES (1, 'untracked');" 2>/dev/null || true
sleep 1
check "nothing recorded while a superuser turned tracking off" "$n" "$(failed)"
out=$(psql -X -q -h 127.0.0.1 -p "$PORT" -U app -d attempts -c "SET lead_audit.record_attempts = off" 2>&1 || true)
check "the application cannot turn tracking off" 'ERROR:  permission denied to set parameter "lead_audit.record_attempts"' "$out"

# 8. A full queue never blocks a writer: what it dropped is counted and recorded.
before=$(failed)
q -c "BEGIN; LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT;" >/dev/null &
locker=$!
for _ in $(seq 1 40); do
    [ "$(q -c "SELECT count(*) FROM pg_locks WHERE relation = 'audit_log'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
    sleep 0.1
done
# The queue holds 64 messages and the writer, blocked on the lock, at most one
# batch of 64 more: 300 failures always overflow it, however fast the writer started.
q -c "DO \$\$ BEGIN FOR i IN 1..300 LOOP BEGIN INSERT INTO leads VALUES (1, 'x'); EXCEPTION WHEN unique_violation THEN NULL; END; END LOOP; END \$\$"
check "300 failures while the log is locked do not wait for it" "running" "$(kill -0 $locker 2>/dev/null && echo running)"
wait $locker
for _ in $(seq 1 80); do
    written=$(( $(failed) - before ))
    dropped=$(q -c "SELECT coalesce(sum((error->>'dropped_before')::int), 0) FROM audit_log WHERE outcome = 'failed'")
    [ $((written + dropped)) -ge 300 ] && break
    sleep 0.25
done
check "every failure written or counted as dropped" "300" "$((written + dropped))"
check "the queue was full (some were dropped)" "t" "$([ "$dropped" -gt 0 ] && echo t || echo f)"
check "audit_status counts the drops, and nothing is left queued" "t|0|0" \
    "$(q -c "SELECT attempts_dropped_since_start >= $dropped, attempts_queued, attempts_dropped FROM audit_status")"
n=$(failed)

# 9. Another database: its own writer, its own log; it can still be dropped.
DB=other q -c "CREATE EXTENSION lead_audit; CREATE TABLE t (id int PRIMARY KEY); SELECT audit_enable('t'); INSERT INTO t VALUES (1);" >/dev/null
DB=other q -c "INSERT INTO t VALUES (1)" 2>/dev/null || true
for _ in $(seq 1 80); do
    [ "$(DB=other q -c "SELECT count(*) FROM audit_log WHERE outcome = 'failed'")" = 1 ] && break
    sleep 0.25
done
check "a failure in another database is recorded there" "1|$n" \
    "$(DB=other q -c "SELECT count(*) FROM audit_log WHERE outcome = 'failed'")|$(failed)"
DB=other q -c "INSERT INTO t VALUES (1)" 2>/dev/null || true
check_cmd "a database with failures being recorded can be dropped" q -d postgres -c "DROP DATABASE other"

# 10. Failed rows are sealed and verify like every row; a tampered one is caught.
for _ in $(seq 1 60); do
    [ "$(q -c "SELECT count(*) FROM audit_log") " = "$(q -c "SELECT coalesce(sum(row_count), 0) FROM audit_block") " ] && break
    sleep 0.5
done
check "every row, failed ones too, sealed" "$(q -c "SELECT count(*) FROM audit_log")" "$(q -c "SELECT sum(row_count) FROM audit_block")"
check "verify_audit ok" "ok" "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "failed rows have the row form v2" "t" "$(q -c "SELECT bool_and(outcome IS NOT NULL) FROM audit_log")"
victim=$(q -c "SELECT min(id) FROM audit_log WHERE outcome = 'failed'")
q -c "SET session_replication_role = replica; UPDATE audit_log SET outcome = 'committed' WHERE id = $victim"
check "a failed row passed off as committed is caught" "modified|$victim" \
    "$(q -c "SELECT status, audit_id FROM verify_audit() WHERE status <> 'ok'")"

check "no attempts writer lingers" 0 \
    "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_audit attempts writer'")"
finish attempts
