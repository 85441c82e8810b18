#!/usr/bin/env bash
# The server exactly as it was: a corpus of errors (tests/errors/errors.sql)
# gives the same output, every field psql's verbose mode prints (SQLSTATE,
# message, DETAIL, HINT, CONTEXT, QUERY, LINE and caret, SCHEMA, TABLE,
# COLUMN, DATATYPE and CONSTRAINT NAME, LOCATION), on three servers of the
# same major: without lead_audit; with it preloaded; with it preloaded and
# every table audited. The preloaded server runs with RUST_BACKTRACE=1, and
# no output may carry a Rust frame or source path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d /tmp/lead_audit_errors.XXXXXX)
chmod 755 "$WORK"
[ -n "${KEEP:-}" ] || on_exit "rm -rf '$WORK'"
SQL="$LIB_ROOT/tests/errors"

corpus() { # PORT DB OUT
    psql -X -a -h 127.0.0.1 -p "$1" -U postgres -d "$2" -f "$SQL/errors.sql" >"$3" 2>&1 || true
}

cluster "$WORK/plain" 5611
PLAIN=$PORT
q -c 'CREATE DATABASE corpus'
DB=corpus q -f "$SQL/setup.sql" >/dev/null
corpus "$PLAIN" corpus "$WORK/plain.out"

PGCLUSTER_ENV="RUST_BACKTRACE=1 RUST_LIB_BACKTRACE=1" \
    cluster "$WORK/loaded" 5612 -c shared_preload_libraries=lead_audit
LOADED=$PORT
q -c 'CREATE DATABASE corpus' -c 'CREATE DATABASE audited'
DB=corpus q -f "$SQL/setup.sql" >/dev/null
DB=audited q -f "$SQL/setup.sql" >/dev/null
audited=$(DB=audited q -f "$SQL/audit.sql")
check "every table with a primary key audited" 7 "$audited"
corpus "$LOADED" corpus "$WORK/loaded.out"
corpus "$LOADED" audited "$WORK/audited.out"

errors=$(grep -c '^psql:.*ERROR:' "$WORK/plain.out" || true)
check "the corpus raises its errors (over 40)" yes "$([ "$errors" -gt 40 ] && echo yes || echo "$errors")"
check_cmd "preloaded: every error as without lead_audit" diff -u "$WORK/plain.out" "$WORK/loaded.out"
check_cmd "preloaded and audited: every error as without lead_audit" diff -u "$WORK/plain.out" "$WORK/audited.out"

# Errors raised inside lead_audit's own functions: its own (bad input) and
# PostgreSQL's (a lock timeout in the SQL the sealer runs, which pgrx carries
# through Rust frames).
psql -X -q -h 127.0.0.1 -p "$LOADED" -U postgres -d audited \
    -c "SELECT pg_advisory_lock(x'1eada0d1'::bigint), pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
on_exit "kill $holder 2>/dev/null"
for _ in $(seq 100); do
    [ "$(DB=audited q -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
    sleep 0.1
done
psql -X -h 127.0.0.1 -p "$LOADED" -U postgres -d audited -c '\set VERBOSITY verbose' \
    -c "SELECT _audit_append_ddl('crm.leads'::regclass, NULL, 'not json')" \
    -c "SELECT audit_enable('crm.lead_emails')" \
    -c "SET lock_timeout = '100ms'" -c "SELECT audit_seal()" >"$WORK/own.out" 2>&1 || true
DB=audited q -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted" >/dev/null
check "errors of lead_audit's functions reach the client" \
    "$(printf '22023\n42809\n55P03')" "$(sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' "$WORK/own.out")"
for out in "$WORK/loaded.out" "$WORK/audited.out" "$WORK/own.out"; do
    check "no Rust frame or source path reaches the client" "" \
        "$(grep -E 'lead_audit::|pgrx|backtrace|/[^ ]*\.rs' "$out" | head -3)"
done

# The corpus's own RAISE WARNING is the one warning expected in the logs.
LOG_ALLOWED='WARNING:  a warning' finish "errors"
