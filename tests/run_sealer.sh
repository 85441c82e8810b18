#!/usr/bin/env bash
# The background sealer: with lead_audit in shared_preload_libraries, rows get
# sealed without anyone calling audit_seal().
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${LEAD_AUDIT_SEALER_PORT:-5497}
DIR=${LEAD_AUDIT_SEALER_DIR:-/tmp/lead_audit_sealer}
passed=0
failed=0
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then
        echo "PASS $1"; passed=$((passed + 1))
    else
        echo "FAIL $1: expected '$2', got '$3'"; failed=$((failed + 1))
    fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "$1"; }

scripts/pgcluster.sh destroy "$DIR"
trap 'scripts/pgcluster.sh destroy "$DIR"' EXIT
scripts/pgcluster.sh start "$DIR" "$PORT" -c shared_preload_libraries=lead_audit
# Through postgresql.auto.conf, not the command line, so a reload can change it.
q "ALTER SYSTEM SET lead_audit.seal_interval = 1" && q "SELECT pg_reload_conf()" >/dev/null

check "the sealer worker runs" 1 "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_audit sealer'")"
q "CREATE EXTENSION lead_audit"
q "CREATE TABLE leads (id int PRIMARY KEY, email text)"
q "SELECT audit_enable('leads')" >/dev/null
q "INSERT INTO leads SELECT g, 'lead' || g FROM generate_series(1, 500) g"
q "UPDATE leads SET email = upper(email) WHERE id <= 100"

# Wait (at most 15 s) until the worker has sealed all 600 rows.
for _ in $(seq 1 30); do
    [ "$(q "SELECT coalesce(sum(row_count), 0) FROM audit_block")" = 600 ] && break
    sleep 0.5
done
check "every row sealed by the worker" 600 "$(q "SELECT coalesce(sum(row_count), 0) FROM audit_block")"
check "verify_audit ok with nothing unsealed" "ok|t" "$(q "SELECT status, detail ~ ' 0 not sealed yet' FROM verify_audit()")"

# A paused worker (seal_interval = 0, reloaded) seals nothing.
q "ALTER SYSTEM SET lead_audit.seal_interval = 0" && q "SELECT pg_reload_conf()" >/dev/null
sleep 2
q "INSERT INTO leads VALUES (1000, 'late')"
sleep 2
check "a paused worker seals nothing" 600 "$(q "SELECT sum(row_count) FROM audit_block")"

echo "sealer: $passed passed, $failed failed"
[ "$failed" = 0 ]
