#!/usr/bin/env bash
# Runs the pg_regress scenarios in tests/pg_regress against a throwaway
# cluster with the installed extension. (cargo pgrx regress cannot run as
# root with --runas in pgrx 0.18.0, so we drive PostgreSQL's own pg_regress.)
#
#   tests/run_regress.sh [scenario ...]     default: every scenario, in order
#   LEAD_AUDIT_ACCEPT=1 tests/run_regress.sh   copy the results over expected/
set -euo pipefail
cd "$(dirname "$0")/pg_regress"

PORT=${LEAD_AUDIT_REGRESS_PORT:-5492}
PGDATA_DIR=${LEAD_AUDIT_REGRESS_DIR:-/tmp/lead_audit_regress}
PGBIN=${PGBIN:-$(../../scripts/postgres.sh bindir "${PG:-15}")}
export PGBIN PATH=$PGBIN:$PATH
PG_REGRESS=$("$PGBIN/pg_config" --pgxs | sed "s|src/makefiles/pgxs.mk$|src/test/regress/pg_regress|")
OUT=$(mktemp -d /tmp/lead_audit_regress_out.XXXXXX)
chmod 777 "$OUT"

if [ $# -gt 0 ]; then
    scenarios=("$@")
else
    scenarios=()
    for f in sql/*.sql; do scenarios+=("$(basename "$f" .sql)"); done
fi

../../scripts/pgcluster.sh destroy "$PGDATA_DIR"
trap '../../scripts/pgcluster.sh destroy "$PGDATA_DIR"' EXIT
../../scripts/pgcluster.sh start "$PGDATA_DIR" "$PORT" -c max_prepared_transactions=2
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE lead_audit_regress"

status=0
PGTZ=UTC PGDATESTYLE='ISO, MDY' "$PG_REGRESS" --use-existing --bindir="$PGBIN" --host=127.0.0.1 --port="$PORT" --user=postgres \
    --dbname=lead_audit_regress --inputdir=. --outputdir="$OUT" "${scenarios[@]}" || status=$?

# A scenario's non-superuser sets lead_audit.enabled before the library is
# loaded: PostgreSQL refuses the value with a WARNING when the library
# defines the setting. That one is expected.
bad=$(grep -E 'WARNING: |PANIC: |terminated by signal|was terminated by|resource was not closed' \
    "$PGDATA_DIR/server.log" | grep -v 'WARNING:  permission denied to set parameter "lead_audit.enabled"' |
    head -5 || true)
if [ -n "$bad" ]; then
    echo "FAIL the server log has a WARNING, PANIC or crash:"
    echo "$bad"
    status=1
fi
if [ "$status" -ne 0 ] && [ -f "$OUT/regression.diffs" ]; then
    cat "$OUT/regression.diffs"
fi
if [ "${LEAD_AUDIT_ACCEPT:-0}" = 1 ]; then
    mkdir -p expected
    cp "$OUT"/results/*.out expected/
    echo "accepted results into tests/pg_regress/expected/"
fi
rm -rf "$OUT"
exit "$status"
