#!/usr/bin/env bash
# Concurrency: 8 writer connections (inserts, updates, deletes, one in ten
# rolled back), 2 connections holding transactions open across seals, and 2
# sealers, all at once through pgbench. Then: every committed change is
# audited exactly once, nothing from rolled-back transactions, everything
# sealed once, verify_audit() ok.
set -euo pipefail
cd "$(dirname "$0")"

PORT=${LEAD_AUDIT_CONCURRENCY_PORT:-5496}
DIR=${LEAD_AUDIT_CONCURRENCY_DIR:-/tmp/lead_audit_concurrency}
DURATION=${LEAD_AUDIT_CONCURRENCY_SECONDS:-15}
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
bench() { "$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U postgres -T "$DURATION" "$@" postgres; }

../../scripts/pgcluster.sh destroy "$DIR"
trap '../../scripts/pgcluster.sh destroy "$DIR"; rm -f "$DIR".*.log' EXIT
../../scripts/pgcluster.sh start "$DIR" "$PORT" -c max_connections=50
q -f setup.sql >/dev/null

echo "==> ${DURATION}s: 8 writers, 2 long transactions, 2 sealers"
bench -c 8 -j 2 -f writer.sql >"$DIR.writers.log" 2>&1 &
writers=$!
bench -c 2 -j 1 -f long.sql >"$DIR.long.log" 2>&1 &
long=$!
bench -c 2 -j 1 -f seal.sql >"$DIR.seal.log" 2>&1 &
sealers=$!
status=0
for pid in $writers $long $sealers; do wait "$pid" || status=1; done
for f in writers long seal; do
    echo "    $f: $(grep -E '^number of (transactions actually processed|failed transactions)' "$DIR.$f.log" | tr '\n' ' ')"
done
if [ "$status" != 0 ] || grep -q 'error\|aborted' "$DIR".*.log; then
    echo "a pgbench run failed:" >&2
    cat "$DIR".*.log >&2
    exit 1
fi

q -c "SELECT count(*) FROM audit_seal()" >/dev/null   # the last seal, after the writers
passed=0
failed=0
while IFS='|' read -r name verdict detail; do
    name=${name% }; verdict=${verdict# }; verdict=${verdict% }
    echo "$verdict $name:$detail"
    if [ "$verdict" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done < <(q -f checks.sql)
echo "concurrency: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" = 6 ]
