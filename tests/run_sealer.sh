#!/usr/bin/env bash
# The background sealer: with lead_audit in shared_preload_libraries, rows get
# sealed without anyone calling audit_seal().
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

cluster "${LEAD_AUDIT_SEALER_DIR:-/tmp/lead_audit_sealer}" "${LEAD_AUDIT_SEALER_PORT:-5497}" \
    -c shared_preload_libraries=lead_audit
# Through postgresql.auto.conf, not the command line, so a reload can change it.
q -c "ALTER SYSTEM SET lead_audit.seal_interval = 1" && q -c "SELECT pg_reload_conf()" >/dev/null

check "the sealer worker runs" 1 "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_audit sealer'")"
q -c "CREATE EXTENSION lead_audit"
q -c "CREATE TABLE leads (id int PRIMARY KEY, email text)"
q -c "SELECT audit_enable('leads')" >/dev/null
q -c "INSERT INTO leads SELECT g, 'lead' || g FROM generate_series(1, 500) g"
q -c "UPDATE leads SET email = upper(email) WHERE id <= 100"

# Wait (at most 15 s) until the worker has sealed all 601 rows (600 changes and
# the DDL row of audit_enable).
for _ in $(seq 1 30); do
    [ "$(q -c "SELECT coalesce(sum(row_count), 0) FROM audit_block")" = 601 ] && break
    sleep 0.5
done
check "every row sealed by the worker" 601 "$(q -c "SELECT coalesce(sum(row_count), 0) FROM audit_block")"
check "verify_audit ok with nothing unsealed" "ok|t" "$(q -c "SELECT status, detail ~ ' 0 not sealed yet' FROM verify_audit()")"
check "audit_status: the sealer runs, nothing waits for it" "t|0|t" \
    "$(q -c "SELECT sealer_running, unsealed_rows, oldest_unsealed_age IS NULL FROM audit_status")"
# ...and files them for audit_history (the 600 changes, and the DDL row under
# the table's own key).
for _ in $(seq 1 20); do
    [ "$(q -c "SELECT count(*) FROM audit_record_index")" = 601 ] && break
    sleep 0.5
done
check "the worker files the sealed rows for audit_history" "601|t" \
    "$(q -c "SELECT (SELECT count(*) FROM audit_record_index),
                    (SELECT count(*) FROM audit_record_filed) = (SELECT count(*) FROM audit_block)")"

# A paused worker (seal_interval = 0, reloaded) seals nothing.
q -c "ALTER SYSTEM SET lead_audit.seal_interval = 0" && q -c "SELECT pg_reload_conf()" >/dev/null
sleep 2
q -c "INSERT INTO leads VALUES (1000, 'late')"
sleep 2
check "a paused worker seals nothing" 601 "$(q -c "SELECT sum(row_count) FROM audit_block")"
check "audit_status shows the row waiting" "1|t" \
    "$(q -c "SELECT unsealed_rows, oldest_unsealed_age > interval '1 second' FROM audit_status")"

finish sealer
