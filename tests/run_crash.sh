#!/usr/bin/env bash
# Crashes: an immediate shutdown (no checkpoint, as a power cut) in the
# middle of an audited bulk write, and right after commits. After the
# restart every committed change has exactly one audit row, the uncommitted
# left none, verify_audit is ok and the background sealer seals again.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PORT=${LEAD_AUDIT_CRASH_PORT:-5486}
DIR=${LEAD_AUDIT_CRASH_DIR:-/tmp/lead_audit_crash}
OPTS=(-c shared_preload_libraries=lead_audit -c lead_audit.seal_interval=1 -c lead_audit.seal_database=crash)
cluster "$DIR" "$PORT" "${OPTS[@]}"
as_pg() { if [ "$(id -u)" = 0 ]; then sudo -u postgres -- "$@"; else "$@"; fi; }
crash() { as_pg "$PGBIN/pg_ctl" -D "$DIR" stop -m immediate >/dev/null; }
restart() { scripts/pgcluster.sh start "$DIR" "$PORT" "${OPTS[@]}"; }
q -c "CREATE DATABASE crash"
export DB=crash
q >/dev/null <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id bigint PRIMARY KEY, batch text, payload text);
SELECT audit_enable('leads');
SQL

# 1. An immediate shutdown in the middle of a bulk write (one transaction).
q -c "INSERT INTO leads SELECT g, 'committed before', 'x' FROM generate_series(1, 1000) g"
q -c "INSERT INTO leads SELECT g, 'in flight', repeat('y', 200) FROM generate_series(100001, 2000000) g" >/dev/null 2>&1 &
writer=$!
sleep 2
crash
wait "$writer" || true
restart
check "the bulk write in flight left no rows" 0 "$(q -c "SELECT count(*) FROM leads WHERE batch = 'in flight'")"
check "and no audit rows" 0 "$(q -c "SELECT count(*) FROM audit_log WHERE new_values ->> 'batch' = 'in flight'")"

# 2. Many small transactions, the server stopped right after some commit.
(
    for i in $(seq 2001 2400); do
        echo "BEGIN; INSERT INTO leads VALUES ($i, 'small', 'z'); UPDATE leads SET payload = 'updated' WHERE id = $((i - 2000)); COMMIT;"
    done
) | PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d crash >/dev/null 2>&1 &
writer=$!
sleep 1.5
crash
wait "$writer" || true
restart

# Every committed row has exactly one INSERT row, every committed update one UPDATE row.
check "every committed insert audited exactly once" 0 \
    "$(q -c "SELECT count(*) FROM leads l
             WHERE (SELECT count(*) FROM audit_log a WHERE a.action = 'INSERT' AND a.record_pk = jsonb_build_object('id', l.id)) <> 1")"
check "no audit row for an insert that did not commit" 0 \
    "$(q -c "SELECT count(*) FROM audit_log a WHERE a.action = 'INSERT'
             AND NOT EXISTS (SELECT 1 FROM leads l WHERE jsonb_build_object('id', l.id) = a.record_pk)")"
check "every committed update audited exactly once" 0 \
    "$(q -c "SELECT count(*) FROM leads l
             WHERE l.payload = 'updated'
               AND (SELECT count(*) FROM audit_log a WHERE a.action = 'UPDATE' AND a.record_pk = jsonb_build_object('id', l.id)) <> 1")"
check "no update audited that did not commit" 0 \
    "$(q -c "SELECT count(*) FROM audit_log a JOIN leads l ON a.record_pk = jsonb_build_object('id', l.id)
             WHERE a.action = 'UPDATE' AND l.payload <> 'updated'")"
check "some small transactions committed before the crash" t "$(q -c "SELECT count(*) > 0 FROM leads WHERE batch = 'small'")"
check "verify_audit is ok after the crashes" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"

# 3. The sealer goes on.
q -c "INSERT INTO leads VALUES (999999, 'after', 'a')"
for _ in $(seq 1 60); do
    [ "$(q -c "SELECT count(*) FROM audit_log")" = "$(q -c "SELECT coalesce(sum(row_count), 0) FROM audit_block")" ] && break
    sleep 0.5
done
check "the background sealer seals every row again" "$(q -c "SELECT count(*) FROM audit_log")" \
    "$(q -c "SELECT coalesce(sum(row_count), 0) FROM audit_block")"
check "verify_audit is ok, everything sealed" "ok|t" "$(q -c "SELECT status, detail ~ ' 0 not sealed yet' FROM verify_audit()")"
finish crash
