#!/usr/bin/env bash
# lead_audit benchmarks: the same workloads, in one run, four ways: unaudited,
# a hand-written PL/pgSQL row trigger, PL/pgSQL statement triggers with
# transition tables, and lead_audit. Reports medians and ratios, not absolute
# times (machines are shared and noisy). `make bench` runs it after installing
# the release build.
#
# Knobs (environment): BENCH_ROWS (200000), BENCH_REPS (3), BENCH_SECONDS (30),
# BENCH_VERIFY_ROWS (1000000), BENCH_MEM_ROWS (1000000), BENCH_MEMORY (1),
# BENCH_PORT (5493), BENCH_DIR (/tmp/lead_audit_bench).
set -euo pipefail
cd "$(dirname "$0")"

ROWS=${BENCH_ROWS:-200000}
REPS=${BENCH_REPS:-3}
SECONDS_OLTP=${BENCH_SECONDS:-30}
VERIFY_ROWS=${BENCH_VERIFY_ROWS:-1000000}
MEM_ROWS=${BENCH_MEM_ROWS:-1000000}
PORT=${BENCH_PORT:-5493}
DIR=${BENCH_DIR:-/tmp/lead_audit_bench}
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
COPY_FILE=$DIR.copy.csv
MODES=(none plpgsql_row plpgsql_stmt lead_audit)
mkdir -p results
OUT=results/latest.md

../scripts/pgcluster.sh destroy "$DIR"
trap '../scripts/pgcluster.sh destroy "$DIR"; rm -f "$COPY_FILE"' EXIT
# Room for the workloads: no checkpoint in the middle of a timed statement.
../scripts/pgcluster.sh start "$DIR" "$PORT" -c shared_buffers=1GB -c max_wal_size=8GB \
    -c checkpoint_timeout=1h -c work_mem=64MB -c autovacuum=off

psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }

# Milliseconds one SQL statement takes, measured by psql's \timing.
timed() {
    psql_ -v rows="$ROWS" -c '\timing on' -f - <<<"$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# A fresh leads table, audited the given way.
setup() {
    psql_ -f sql/leads.sql
    psql_ -c "DROP EXTENSION IF EXISTS lead_audit CASCADE" -c "DROP TABLE IF EXISTS plpgsql_log"
    case "$1" in
    none) ;;
    *) psql_ -f "sql/$1.sql" >/dev/null ;;
    esac
}

settle() { psql_ -c "VACUUM ANALYZE" -c "CHECKPOINT"; }

declare -A T
echo "==> bulk workloads: $ROWS rows, $REPS repetitions, modes: ${MODES[*]}"
psql_ -f sql/leads.sql
psql_ -v rows="$ROWS" -f sql/insert.sql
psql_ -c "COPY (SELECT email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue FROM leads) TO '$COPY_FILE'"
for rep in $(seq 1 "$REPS"); do
    for mode in "${MODES[@]}"; do
        setup "$mode"; settle
        T[insert,$mode]+="$(timed "$(cat sql/insert.sql)") "
        settle
        T[update,$mode]+="$(timed "UPDATE leads SET status = 'contacted', score = score + 1;") "
        settle
        T[delete,$mode]+="$(timed "DELETE FROM leads WHERE id % 2 = 0;") "
        setup "$mode"; settle
        T[copy,$mode]+="$(timed "COPY leads (email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue) FROM '$COPY_FILE';") "
        echo "    rep $rep $mode: insert/update/delete/copy done"
    done
done

echo "==> pgbench OLTP: 2 clients, ${SECONDS_OLTP}s per mode"
declare -A TPS
for mode in none plpgsql_row lead_audit; do
    setup "$mode"
    psql_ -v rows="$ROWS" -f sql/insert.sql
    settle
    TPS[$mode]=$("$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U postgres -c 2 -j 2 -T "$SECONDS_OLTP" \
        -D rows="$ROWS" -f pgbench_oltp.sql postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    echo "    $mode: ${TPS[$mode]} tps"
done

echo "==> verify_audit over $VERIFY_ROWS audit rows"
setup lead_audit
psql_ -v rows="$VERIFY_ROWS" -f sql/insert.sql
SEAL_MS=$(timed "SELECT count(*) FROM audit_seal();")
settle
VERIFY_MS=()
for _ in $(seq 1 "$REPS"); do VERIFY_MS+=("$(timed "SELECT count(*) FROM verify_audit();")"); done
VERIFY_MED=$(median "${VERIFY_MS[@]}")
VERIFIED_ROWS=$(psql_ -At -c "SELECT count(*) FROM audit_log")

# Peak private memory (RssAnon, sampled every 20 ms) of the backend running
# one UPDATE of MEM_ROWS rows: shared buffers are not counted.
peak_update_memory() {
    setup "$1"
    psql_ -v rows="$MEM_ROWS" -f sql/insert.sql
    settle
    local fifo pid peak=0 kb
    fifo=$(mktemp -u); mkfifo "$fifo"
    psql_ -At <"$fifo" >"$fifo.out" 2>&1 &
    exec 7>"$fifo"
    echo "SELECT pg_backend_pid();" >&7
    while [ ! -s "$fifo.out" ]; do sleep 0.05; done
    pid=$(head -1 "$fifo.out")
    echo "UPDATE leads SET status = 'contacted', score = score + 1;" >&7
    echo "SELECT 'done';" >&7
    while ! grep -q '^done$' "$fifo.out" 2>/dev/null; do
        kb=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${kb:-0}" -gt "$peak" ] && peak=$kb
        sleep 0.02
    done
    exec 7>&-
    wait
    rm -f "$fifo" "$fifo.out"
    echo "$peak"
}
declare -A MEM
if [ "${BENCH_MEMORY:-1}" = 1 ]; then
    echo "==> memory: one UPDATE of $MEM_ROWS rows"
    for mode in none noop_row lead_audit; do
        MEM[$mode]=$(peak_update_memory "$mode")
        echo "    $mode: peak RssAnon ${MEM[$mode]} kB"
    done
fi

# ---- report ------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<=") ? v <= t : v >= t; print ok ? "PASS" : "FAIL" }'; }
declare -A TARGET=([insert]=3.0 [update]=2.0 [delete]=12 [copy]=3.0)
{
    echo "# lead_audit benchmark"
    echo
    echo "$(date -u +%Y-%m-%d), PostgreSQL $(psql_ -At -c 'SHOW server_version'), $(nproc) cores; $ROWS rows, median of $REPS; times in ms."
    echo
    echo "| workload | unaudited | PL/pgSQL row | PL/pgSQL statement | lead_audit | lead_audit / unaudited (target) | PL/pgSQL row / lead_audit | PL/pgSQL statement / lead_audit |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for w in insert update delete copy; do
        declare -A M=()
        for mode in "${MODES[@]}"; do
            # shellcheck disable=SC2086
            M[$mode]=$(median ${T[$w,$mode]})
        done
        r=$(ratio "${M[lead_audit]}" "${M[none]}")
        rr=$(ratio "${M[plpgsql_row]}" "${M[lead_audit]}")
        rs=$(ratio "${M[plpgsql_stmt]}" "${M[lead_audit]}")
        echo "| bulk $w | ${M[none]} | ${M[plpgsql_row]} | ${M[plpgsql_stmt]} | ${M[lead_audit]} | $r (<= ${TARGET[$w]}: $(verdict "$r" "${TARGET[$w]}" "<=")) | $rr ($(verdict "$rr" 4 ">=") >= 4) | $rs |"
    done
    pct=$(awk -v a="${TPS[lead_audit]}" -v b="${TPS[none]}" 'BEGIN { printf "%.0f", 100 * a / b }')
    pct_pl=$(awk -v a="${TPS[plpgsql_row]}" -v b="${TPS[none]}" 'BEGIN { printf "%.0f", 100 * a / b }')
    echo
    echo "| pgbench OLTP (2 clients, ${SECONDS_OLTP}s: SET LOCAL actor, 1 UPDATE, 1 INSERT) | TPS | % of unaudited |"
    echo "| --- | ---: | ---: |"
    echo "| unaudited | ${TPS[none]} | 100 |"
    echo "| PL/pgSQL row trigger | ${TPS[plpgsql_row]} | $pct_pl |"
    echo "| lead_audit | ${TPS[lead_audit]} | $pct (>= 90: $(verdict "$pct" 90 ">=")) |"
    rows_total=$VERIFIED_ROWS
    rps=$(awk -v n="$rows_total" -v ms="$VERIFY_MED" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    seal_rps=$(awk -v n="$rows_total" -v ms="$SEAL_MS" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    echo
    echo "| ledger over $rows_total audit rows | ms | rows/s |"
    echo "| --- | ---: | ---: |"
    echo "| audit_seal() (first seal of everything) | $SEAL_MS | $seal_rps |"
    echo "| verify_audit() (median of $REPS) | $VERIFY_MED | $rps (>= 500000: $(verdict "$rps" 500000 ">=")) |"
    if [ "${BENCH_MEMORY:-1}" = 1 ]; then
        echo
        echo "| one UPDATE of $MEM_ROWS rows | peak private memory of the backend (RssAnon) |"
        echo "| --- | ---: |"
        echo "| unaudited | ${MEM[none]} kB |"
        echo "| no-op AFTER row trigger (PostgreSQL's after-trigger queue) | ${MEM[noop_row]} kB |"
        echo "| lead_audit | ${MEM[lead_audit]} kB |"
    fi
} | tee "$OUT"
echo "(written to bench/$OUT)"
