#!/usr/bin/env bash
# Concurrency (issue 4): through pgbench, at once, for DURATION seconds:
#   8 writer connections (writer.sql): insert / update / delete of one random
#     row, ~15% rolled back, ~10% with a change undone by ROLLBACK TO SAVEPOINT;
#   2 connections running long transactions (long.sql): write, sleep 1-3 s,
#     write again, commit (one in five rolls back), spanning several seals;
#   2 sealers (seal.sql): audit_seal() every 100-300 ms.
# Each operation that commits is recorded in the unaudited table `ops` in the
# same transaction. After a final audit_seal(), checks.sql compares ops with
# audit_log and the table, and the ledger with audit_log (see checks.sql).
#
# Environment: LEAD_AUDIT_CONCURRENCY_PORT (5496), LEAD_AUDIT_CONCURRENCY_DIR
# (/tmp/lead_audit_concurrency), LEAD_AUDIT_CONCURRENCY_SECONDS (15).
set -euo pipefail
cd "$(dirname "$0")"
. ../lib.sh

PORT=${LEAD_AUDIT_CONCURRENCY_PORT:-5496}
DIR=${LEAD_AUDIT_CONCURRENCY_DIR:-/tmp/lead_audit_concurrency}
DURATION=${LEAD_AUDIT_CONCURRENCY_SECONDS:-15}
# The system's pgbench drives every major: 14's has no --max-tries.
PGBENCH=$("$LIB_ROOT/scripts/postgres.sh" bindir 15)/pgbench
CHECKS=8 # rows checks.sql prints
# --max-tries: a serialization failure or deadlock (none is expected: every
# transaction changes one row) is retried; a transaction that still fails is
# rolled back whole by pgbench, so it is in neither ops nor audit_log.
bench() { "$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U postgres -T "$DURATION" --max-tries=10 "$@" postgres; }

on_exit "rm -f '$DIR'.*.log"
cluster "$DIR" "$PORT" -c max_connections=50
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
    echo "    $f: $(grep -E '^number of (transactions actually processed|failed transactions|transactions retried)' "$DIR.$f.log" |
        sed 's/^number of //' | paste -sd, -)"
done
# pgbench exits non-zero when a client aborted (any error but a serialization
# failure or deadlock, which count as failed transactions).
if [ "$status" != 0 ] || grep -qi 'aborted\|error' "$DIR".*.log; then
    echo "a pgbench run failed:" >&2
    cat "$DIR".*.log >&2
    exit 1
fi

q -c "SELECT count(*) FROM audit_seal()" >/dev/null # the last seal, after the writers
if ! out=$(q -f checks.sql 2>&1); then
    echo "FAIL checks.sql did not run to the end: $out"
    failed=$((failed + 1))
fi
while IFS='|' read -r name verdict detail; do
    name=${name% }
    verdict=${verdict# }
    verdict=${verdict% }
    case "$verdict" in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    *) continue ;;
    esac
    echo "$verdict $name:$detail"
done <<<"$out"
if [ $((passed + failed)) -lt "$CHECKS" ]; then
    echo "FAIL only $((passed + failed)) of $CHECKS checks ran"
    failed=$((failed + CHECKS - passed - failed))
fi
finish concurrency
