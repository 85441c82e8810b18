#!/usr/bin/env bash
# lead_audit benchmarks: the same workloads, in one run, four ways: unaudited,
# a hand-written PL/pgSQL row trigger, PL/pgSQL statement triggers with
# transition tables, and lead_audit. Reports medians and ratios: absolute times
# only mean something within one run (machines are shared and noisy).
# `make bench` runs it after installing the release build; without the
# extension installed it still runs and prints n/a for lead_audit.
#
# Knobs (environment), see bench/README.md: BENCH_ROWS (200000), BENCH_REPS (3),
# BENCH_SECONDS (30), BENCH_VERIFY_ROWS (1000000), BENCH_MEM_ROWS (1000000),
# BENCH_HISTORY_ROWS (10000000), BENCH_MEMORY (1), BENCH_LEAD_AUDIT (1), BENCH_PORT (5493),
# BENCH_DIR (/tmp/lead_audit_bench).
set -euo pipefail
shopt -s inherit_errexit # a failing psql inside $(...) stops the run too
cd "$(dirname "$0")"

ROWS=${BENCH_ROWS:-200000}
REPS=${BENCH_REPS:-3}
OLTP_SECONDS=${BENCH_SECONDS:-30}
VERIFY_ROWS=${BENCH_VERIFY_ROWS:-1000000}
MEM_ROWS=${BENCH_MEM_ROWS:-1000000}
HISTORY_ROWS=${BENCH_HISTORY_ROWS:-10000000}
MEMORY=${BENCH_MEMORY:-1}
PORT=${BENCH_PORT:-5493}
DIR=${BENCH_DIR:-/tmp/lead_audit_bench}
for knob in ROWS REPS OLTP_SECONDS VERIFY_ROWS MEM_ROWS HISTORY_ROWS PORT; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $knob must be a positive whole number, not '${!knob}'" >&2; exit 2; }
done
PGBIN=${PGBIN:-$(../scripts/postgres.sh bindir "${PG:-15}")}
export PGBIN PATH=$PGBIN:$PATH
PGBENCH=$PGBIN/pgbench
COPY_FILE=$DIR/leads.copy # inside the cluster: the server (user postgres) writes and reads it
OUT=results/latest.md
WORK=$(mktemp -d /tmp/lead_audit_bench_work.XXXXXX) # pgbench logs, memory probe, report

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg) # another busy process makes every figure noisy

cleanup() {
    ../scripts/pgcluster.sh destroy "$DIR" || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that Ctrl-C also runs cleanup

# ---- cluster -----------------------------------------------------------------
../scripts/pgcluster.sh destroy "$DIR" # leftovers of an interrupted run
# Room for the workloads (no checkpoint or autovacuum in the middle of a timed
# statement). JIT off: it compiles the statement triggers' queries (the planner
# guesses transition tables at 100x their size) for a fixed ~200 ms that has
# nothing to do with auditing and would blur small runs.
# lead_audit preloaded when installed, as production runs it: failed-attempt
# tracking is then part of every audited write (the lead_audit_untracked way
# turns it off, to show what it costs). The background sealer is paused
# (lead_audit.seal_interval = 0, set in postgresql.auto.conf so that the
# history step can start it with a reload: see sealer()).
PRELOAD=()
if [ "${BENCH_LEAD_AUDIT:-1}" = 1 ] && [ -f "$("$PGBIN/pg_config" --pkglibdir)/lead_audit.so" ]; then
    PRELOAD=(-c shared_preload_libraries=lead_audit)
fi
../scripts/pgcluster.sh start "$DIR" "$PORT" -c shared_buffers=1GB -c max_wal_size=8GB \
    -c checkpoint_timeout=1h -c work_mem=64MB -c autovacuum=off -c jit=off "${PRELOAD[@]}"

psql_() {
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "${DB:-postgres}" "$@"
}

# sealer SECONDS: the background sealer seals (and files for history) every
# SECONDS; 0 pauses it.
sealer() { psql_ -c "ALTER SYSTEM SET lead_audit.seal_interval = $1" -c "SELECT pg_reload_conf()" >/dev/null; }
[ "${#PRELOAD[@]}" = 0 ] || sealer 0

# noop_stmt and trigger_only measure what triggers cost before they capture
# anything (the report's lower-bound table); pgbench leaves noop_stmt out.
WAYS=(none plpgsql_row plpgsql_stmt noop_stmt)
HAVE_EXT=0
if [ "${BENCH_LEAD_AUDIT:-1}" = 1 ] &&
    [ "$(psql_ -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'lead_audit'")" = 1 ]; then
    HAVE_EXT=1
    WAYS+=(floor lead_audit)
    [ "${#PRELOAD[@]}" = 0 ] || WAYS+=(lead_audit_untracked trigger_only)
else
    echo "note: lead_audit is not installed (or BENCH_LEAD_AUDIT=0): its columns print n/a"
fi

# ---- helpers -----------------------------------------------------------------
# A fresh leads table (and log tables), audited the given way: none,
# plpgsql_row, plpgsql_stmt, noop_stmt, floor, lead_audit, lead_audit_untracked,
# trigger_only or noop_row (see sql/).
setup() {
    psql_ -f sql/leads.sql -c "DROP EXTENSION IF EXISTS lead_audit CASCADE" -c "DROP TABLE IF EXISTS plpgsql_log" \
        -c "DO \$\$ BEGIN EXECUTE format('ALTER DATABASE %I RESET lead_audit.enabled', current_database()); END \$\$"
    [ "$1" = none ] || psql_ -f "sql/$1.sql" >/dev/null
}

# Add N realistic leads (text, tags array, metadata jsonb, revenue).
load() { psql_ -v rows="$1" -f sql/insert.sql; }

# Before every timed step: no dead rows or dirty pages left by the last one.
settle() { psql_ -c "VACUUM ANALYZE" -c "CHECKPOINT"; }

# Milliseconds one SQL statement (on stdin) takes, by psql's \timing.
timed() {
    psql_ -v rows="$ROWS" -c '\timing on' -f - | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

# Milliseconds all the statements on stdin take together (the floor's write
# and its audit rows, in one transaction).
timed_sum() {
    psql_ -v rows="$ROWS" -c '\timing on' -f - | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        awk '{t += $1} END {printf("%.3f", t)}'
}

# The floor's way of running one workload: the statement, then its audit
# rows (built by lead_audit beforehand) appended in the same transaction.
floor_timed() {
    timed_sum <<<"BEGIN; $1 INSERT INTO floor_log SELECT * FROM floor_rows_$2; COMMIT;"
}

declare -A R=() # R[workload,way]: the measurements, space-separated

# ---- bulk workloads ----------------------------------------------------------
echo "==> bulk workloads: $ROWS rows, $REPS repetitions, ways: ${WAYS[*]}"
# The COPY input: ROWS rows written to a file once, the same for every way.
setup none
load "$ROWS"
psql_ -c "COPY (SELECT email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue
               FROM leads) TO '$COPY_FILE'"
UPDATE_SQL="UPDATE leads SET status = 'contacted', score = score + 1;"
DELETE_SQL="DELETE FROM leads WHERE id % 2 = 0;"
COPY_SQL="COPY leads (email, full_name, company, phone, status, score, source,
                      owner_id, tags, metadata, revenue) FROM '$COPY_FILE';"
# The floor's rows: what lead_audit writes for each workload, built once.
if [ "$HAVE_EXT" = 1 ]; then
    setup lead_audit
    mark() { psql_ -At -c "SELECT coalesce(max(id), 0) FROM audit_log"; }
    keep() { psql_ -c "DROP TABLE IF EXISTS floor_rows_$1" -c "CREATE TABLE floor_rows_$1 AS SELECT * FROM audit_log WHERE id > $2 ORDER BY id"; }
    m=$(mark); load "$ROWS"; keep insert "$m"
    m=$(mark); psql_ -c "$UPDATE_SQL"; keep update "$m"
    m=$(mark); psql_ -c "$DELETE_SQL"; keep delete "$m"
    setup lead_audit
    m=$(mark); psql_ -c "$COPY_SQL"; keep copy "$m"
fi
# Repetitions outermost, so that a slow patch of the machine hits every way.
for rep in $(seq 1 "$REPS"); do
    for way in "${WAYS[@]}"; do
        setup "$way"
        settle
        if [ "$way" = floor ]; then
            ins=$(floor_timed "$(grep -v '^--' sql/insert.sql)" insert)
            settle
            upd=$(floor_timed "$UPDATE_SQL" update)
            settle
            del=$(floor_timed "$DELETE_SQL" delete)
            setup "$way"
            settle
            cpy=$(floor_timed "$COPY_SQL" copy)
        else
            ins=$(timed <sql/insert.sql)
            settle
            upd=$(timed <<<"$UPDATE_SQL")
            settle
            del=$(timed <<<"$DELETE_SQL")
            setup "$way"
            settle
            cpy=$(timed <<<"$COPY_SQL")
        fi
        R[insert,$way]+="$ins " R[update,$way]+="$upd " R[delete,$way]+="$del " R[copy,$way]+="$cpy "
        echo "    rep $rep, $way: insert $ins, update $upd, delete $del, copy $cpy ms"
    done
done

# ---- pgbench -----------------------------------------------------------------
# One database per way, so the tables keep growing as in one long run, and
# the time cut into REPS slices run round-robin: a slow patch of a shared
# machine then hits every way instead of whichever ran at that moment.
SLICE=$(((OLTP_SECONDS + REPS - 1) / REPS))
echo "==> pgbench: 2 clients, ${OLTP_SECONDS}s per way in $REPS slices of ${SLICE}s" \
    "(SET LOCAL actor; UPDATE one lead; INSERT one)"
# The floor writes prebuilt rows of the bulk workloads only: not here.
# trigger_only is here: what a row trigger and one audit row per transaction
# (its UNAUDITED marker) cost before anything is captured, the bound of the
# pgbench target for a trigger-based design.
OLTP_WAYS=()
for way in "${WAYS[@]}"; do
    case $way in floor | noop_stmt) ;; *) OLTP_WAYS+=("$way") ;; esac
done
for way in "${OLTP_WAYS[@]}"; do
    psql_ -c "DROP DATABASE IF EXISTS bench_$way" -c "CREATE DATABASE bench_$way"
    DB=bench_$way setup "$way"
    DB=bench_$way load "$ROWS"
done
for slice in $(seq 1 "$REPS"); do
    line="    slice $slice:"
    for way in "${OLTP_WAYS[@]}"; do
        DB=bench_$way settle
        log=$WORK/pgbench.log
        "$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U postgres -c 2 -j 2 -T "$SLICE" \
            -D rows="$ROWS" -f pgbench_oltp.sql "bench_$way" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
        tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log")
        R[pgbench,$way]+="$tps "
        line+=" $way ${tps%.*} tps,"
    done
    echo "${line%,}"
done
for way in "${OLTP_WAYS[@]}"; do psql_ -c "DROP DATABASE bench_$way"; done

# ---- verify_audit ------------------------------------------------------------
if [ "$HAVE_EXT" = 1 ]; then
    echo "==> verify_audit over $VERIFY_ROWS audit rows"
    setup lead_audit
    load "$VERIFY_ROWS"
    # Seal first when the extension has a ledger: verify_audit then checks
    # blocks and links as well as every row, as it would in production.
    if [ "$(psql_ -At -c "SELECT count(*) FROM pg_proc WHERE proname = 'audit_seal'")" != 0 ]; then
        if [ "$(psql_ -At -c "SELECT to_regclass('audit_tree') IS NOT NULL")" = t ]; then
            # The chain alone, then the Merkle tree of the same blocks, timed
            # apart: a seal does both (the tree is appended from the blocks it
            # wrote). With audit_tree renamed, the library finds no tree.
            psql_ -c "ALTER TABLE audit_tree RENAME TO audit_tree_aside"
            R[seal,lead_audit]=$(timed <<<"SELECT count(*) FROM audit_seal();")
            psql_ -c "ALTER TABLE audit_tree_aside RENAME TO audit_tree"
            R[tree,lead_audit]=$(timed <<<"SELECT _audit_tree_extend();")
        else
            R[seal,lead_audit]=$(timed <<<"SELECT count(*) FROM audit_seal();")
        fi
    fi
    settle
    for _ in $(seq 1 "$REPS"); do
        R[verify,lead_audit]+="$(timed <<<"SELECT count(*) FROM verify_audit();") "
    done
    AUDIT_ROWS=$(psql_ -At -c "SELECT count(*) FROM audit_log")
fi

# ---- history look-up -----------------------------------------------------------
# audit_history() on a log of HISTORY_ROWS rows, 10 per record, sealed (as
# the background sealer keeps it) but for a tail of rows not sealed yet.
if [ "$HAVE_EXT" = 1 ] &&
    [ "$(psql_ -At -c "SELECT count(*) > 0 FROM pg_available_extension_versions
                       WHERE name = 'lead_audit' AND string_to_array(version, '.')::int[] >= '{0,2,0}'")" = t ]; then
    H_KEYS=$(((HISTORY_ROWS + 9) / 10)) H_TAIL=$((HISTORY_ROWS / 1000 + 1))
    echo "==> audit_history on a log of $HISTORY_ROWS rows ($H_KEYS records; a tail of $H_TAIL unsealed)"
    setup lead_audit
    psql_ -v rows="$HISTORY_ROWS" -v keys="$H_KEYS" -v tail="$H_TAIL" -f sql/history.sql
    psql_ -c "CHECKPOINT"
    probe=$(psql_ -At -v rows="$HISTORY_ROWS" -v keys="$H_KEYS" -v tail="$H_TAIL" -f sql/history_probe.sql)
    read -r R[history,lead_audit] R[history_ok,lead_audit] R[as_of,lead_audit] R[as_of_ok,lead_audit] <<<"$probe"
    echo "    audit_history: median ${R[history,lead_audit]} ms, every history complete: ${R[history_ok,lead_audit]}"
    echo "    audit_row_as_of: median ${R[as_of,lead_audit]} ms, every state right: ${R[as_of_ok,lead_audit]}"
    [ "${R[history_ok,lead_audit]}" = true ] || { echo "bench: audit_history missed rows" >&2; exit 1; }
    [ "${R[as_of_ok,lead_audit]}" = true ] || { echo "bench: audit_row_as_of gave a wrong state" >&2; exit 1; }
    # The same look-ups with the background sealer running, once it has sealed
    # and filed the tail (what a log at rest looks like; under writes, the
    # tail is what the last seal interval wrote).
    if [ "${#PRELOAD[@]}" != 0 ]; then
        sealer 1
        caught_up="SELECT unsealed_rows = 0 AND last_digest->>'block_id' = (SELECT max(block_id)::text FROM audit_record_filed) FROM audit_status"
        for _ in $(seq 1 120); do
            [ "$(psql_ -At -c "$caught_up")" = t ] && break
            sleep 1
        done
        [ "$(psql_ -At -c "$caught_up")" = t ] || { echo "bench: the background sealer did not file the tail in 120 s" >&2; exit 1; }
        probe=$(psql_ -At -v rows="$HISTORY_ROWS" -v keys="$H_KEYS" -v tail="$H_TAIL" -f sql/history_probe.sql)
        read -r R[history,sealer] R[history_ok,sealer] R[as_of,sealer] R[as_of_ok,sealer] <<<"$probe"
        # The viewer's pages (lead_audit.web) on the same log, the sealer still
        # running: the Python package with its web extra, from a copy.
        if python3 -m venv "$WORK/venv" >/dev/null 2>&1 && cp -r ../clients/python "$WORK/lead-audit" &&
            "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$WORK/lead-audit[web]" httpx >/dev/null 2>&1; then
            probe=$("$WORK/venv/bin/python" viewer_probe.py "host=127.0.0.1 port=$PORT user=postgres dbname=${DB:-postgres}" "$H_KEYS")
            read -r R[timeline,sealer] R[changes_page,sealer] R[viewer_ok,sealer] <<<"$probe"
            echo "    the viewer, the sealer running: a record's timeline page ${R[timeline,sealer]} ms," \
                "a change list page ${R[changes_page,sealer]} ms; every page right: ${R[viewer_ok,sealer]}"
            [ "${R[viewer_ok,sealer]}" = true ] || { echo "bench: a viewer page was not what it should be" >&2; exit 1; }
        else
            echo "    (the viewer's pages not measured: the Python package's web extra did not install)"
        fi
        sealer 0
        echo "    with the background sealer running (the tail filed): audit_history ${R[history,sealer]} ms," \
            "audit_row_as_of ${R[as_of,sealer]} ms; complete and right: ${R[history_ok,sealer]} ${R[as_of_ok,sealer]}"
        [ "${R[history_ok,sealer]}/${R[as_of_ok,sealer]}" = true/true ] ||
            { echo "bench: with the sealer running, audit_history or audit_row_as_of went wrong" >&2; exit 1; }
    fi
    # Receipts and consistency proofs on the same log: its tree was built as
    # it was sealed; a key (made with Go's sumdb/note) signs the next seal.
    if [ "$(psql_ -At -c "SELECT to_regclass('audit_tree') IS NOT NULL")" = t ] && command -v go >/dev/null; then
        (cd ../tests/crosscheck && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$WORK/gocache" \
            go build -o "$WORK/crosscheck" .)
        "$WORK/crosscheck" keygen bench.example/lead_audit "$DIR.key" >/dev/null
        chown postgres "$DIR.key" 2>/dev/null || true
        psql_ -c "ALTER SYSTEM SET lead_audit.signing_key_file = '$DIR.key'" -c "SELECT pg_reload_conf()" >/dev/null
        sleep 1
        psql_ -c "SELECT count(*) FROM audit_seal()" >/dev/null
        probe=$(psql_ -At -f sql/proofs_probe.sql)
        read -r R[proof,lead_audit] R[proof_ok,lead_audit] R[consistency,lead_audit] R[consistency_ok,lead_audit] <<<"$probe"
        psql_ -c "ALTER SYSTEM RESET lead_audit.signing_key_file" -c "SELECT pg_reload_conf()" >/dev/null
        rm -f "$DIR.key"
        echo "    audit_proof: median ${R[proof,lead_audit]} ms (every one a tlog-proof: ${R[proof_ok,lead_audit]});" \
            "audit_consistency: median ${R[consistency,lead_audit]} ms"
        [ "${R[proof_ok,lead_audit]}/${R[consistency_ok,lead_audit]}" = true/true ] ||
            { echo "bench: a receipt or a consistency proof was not what it should be" >&2; exit 1; }
    fi
    psql_ -c "DROP EXTENSION lead_audit CASCADE" -c "VACUUM"
fi

# ---- memory ------------------------------------------------------------------
# Prints "peak_RssAnon_kB VmHWM_growth_kB" of the backend that runs one UPDATE
# of MEM_ROWS rows. RssAnon (private memory, sampled every 20 ms) is the figure
# that matters; VmHWM is the kernel's exact peak but also counts every
# shared-buffer page the backend touched, which grows with the table whether
# or not it is audited.
update_memory() {
    local pidfile=$WORK/backend.pid pid='' psql_pid status rss hwm peak=0 hwm0='' hwm1=0
    setup "$1"
    load "$MEM_ROWS"
    settle
    rm -f "$pidfile"
    # The sleeps give the sampler time to read the backend before and after.
    psql_ -At -c "\\o $pidfile" -c "SELECT pg_backend_pid()" -c "\\o" -c "SELECT pg_sleep(0.3)" \
        -c "UPDATE leads SET status = 'contacted', score = score + 1" -c "SELECT pg_sleep(0.3)" >/dev/null &
    psql_pid=$!
    while kill -0 "$psql_pid" 2>/dev/null; do
        [ -n "$pid" ] || { [ -s "$pidfile" ] && pid=$(cat "$pidfile"); }
        if [ -n "$pid" ] && status=$(cat "/proc/$pid/status" 2>/dev/null); then
            # An exiting backend's status has no memory lines: skip it.
            rss=$(awk '/^RssAnon:/ {print $2}' <<<"$status")
            hwm=$(awk '/^VmHWM:/ {print $2}' <<<"$status")
            if [ -n "$rss" ] && [ -n "$hwm" ]; then
                [ "$rss" -le "$peak" ] || peak=$rss
                [ -n "$hwm0" ] || hwm0=$hwm
                hwm1=$hwm
            fi
        fi
        sleep 0.02
    done
    wait "$psql_pid"
    echo "$peak $((hwm1 - ${hwm0:-0}))"
}

MEM_WAYS=(none noop_row)
[ "$HAVE_EXT" = 0 ] || MEM_WAYS+=(lead_audit)
if [ "$MEMORY" = 1 ]; then
    echo "==> memory: one UPDATE of $MEM_ROWS rows"
    for way in "${MEM_WAYS[@]}"; do
        mem=$(update_memory "$way")
        R[rss,$way]=${mem% *} R[hwm,$way]=${mem#* }
        echo "    $way: peak RssAnon ${R[rss,$way]} kB, VmHWM +${R[hwm,$way]} kB"
    done
fi

# ---- report ------------------------------------------------------------------
# Every helper prints n/a when a figure is missing (no extension, step skipped).
median() {
    printf '%s\n' "$@" | sort -g |
        awk '{a[NR] = $1} END {if (NR == 0) print "n/a"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
# shellcheck disable=SC2086 # the list is meant to split into words
med() { median ${R[$1,$2]:-}; }
# num VALUE [DECIMALS] [SCALE]: VALUE*SCALE rounded, or n/a.
num() {
    awk -v v="$1" -v d="${2:-1}" -v s="${3:-1}" \
        'BEGIN {if (v ~ /^[0-9.]+$/) printf("%." d "f", v * s); else printf("n/a")}'
}
per_second() { awk -v n="$1" -v ms="$2" 'BEGIN {if (n ~ /^[0-9.]+$/ && ms ~ /^[0-9.]+$/ && ms > 0) printf("%.0f", n * 1000 / ms); else printf("n/a")}'; }
mb() { local v; v=$(num "$1" 1 0.001); if [ "$v" = n/a ]; then echo n/a; else echo "$v MB"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf("%.2f", a / b); else printf("n/a")}'; }
# verdict VALUE OP TARGET: PASS, FAIL or n/a.
verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" \
        'BEGIN {if (v !~ /^[0-9.]+$/) print "n/a"; else print ((op == "<=") ? v + 0 <= t : v + 0 >= t) ? "PASS" : "FAIL"}'
}

# overhead TIME UNAUDITED: TIME / UNAUDITED - 1, or n/a.
overhead() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf("%.2f", a / b - 1); else printf("n/a")}'
}

# bound UNAUDITED TRIGGERS FLOOR: 1 + the triggers' overhead + the floor's, as a ratio.
bound() {
    awk -v n="$1" -v t="$2" -v f="$3" \
        'BEGIN {if (n ~ /^[0-9.]+$/ && t ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/ && n > 0) printf("%.2f", (t + f - n) / n); else printf("n/a")}'
}

# One bulk row: times in ms, lead_audit/unaudited against its target, and
# each PL/pgSQL trigger at least `faster` times slower than lead_audit.
bulk_row() {
    local w=$1 label=$2 target=$3 faster=$4 n p s l r rp rs
    n=$(med "$w" none) p=$(med "$w" plpgsql_row) s=$(med "$w" plpgsql_stmt) l=$(med "$w" lead_audit)
    r=$(ratio "$l" "$n") rp=$(ratio "$p" "$l") rs=$(ratio "$s" "$l")
    echo "| $label | $(num "$n") | $(num "$p") | $(num "$s") | $(num "$l") |" \
        "$r (≤ $target: $(verdict "$r" "<=" "$target")) | $rp (≥ $faster: $(verdict "$rp" ">=" "$faster")) |" \
        "$rs (≥ $faster: $(verdict "$rs" ">=" "$faster")) |"
}

# TPS with its % of the unaudited TPS.
tps_cell() {
    local t=$1 base=$2 pct
    pct=$(num "$(ratio "$t" "$base")" 0 100)
    if [ "$t" = "$base" ] || [ "$pct" = n/a ]; then num "$t" 0; else echo "$(num "$t" 0) ($pct%)"; fi
}

report() {
    local n p s l pct pct_cell rps seal_rps tree_rps
    echo "# lead_audit benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), PostgreSQL $(psql_ -At -c 'SHOW server_version'), $(nproc) cores," \
        "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end. Bulk: $ROWS rows, median of $REPS, times in ms."
    [ "$HAVE_EXT" = 1 ] || echo "lead_audit was not installed: its figures are n/a."
    echo
    echo "| workload | unaudited | PL/pgSQL row | PL/pgSQL stmt | lead_audit | ratio lead_audit / unaudited (target) | ratio PL/pgSQL row / lead_audit (target) | ratio PL/pgSQL stmt / lead_audit (target) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    bulk_row insert "bulk INSERT ... SELECT (ms)" 2.5 2
    bulk_row update "bulk UPDATE of 2 columns (ms)" 2.0 4
    bulk_row delete "bulk DELETE of half (ms)" 8 2
    bulk_row copy "COPY (ms)" 2.5 2
    n=$(med pgbench none) p=$(med pgbench plpgsql_row) s=$(med pgbench plpgsql_stmt) l=$(med pgbench lead_audit)
    pct=$(num "$(ratio "$l" "$n")" 0 100) pct_cell=$pct
    [ "$pct" = n/a ] || pct_cell+=%
    echo "| pgbench, 2 clients (TPS, higher is better; median of $REPS slices of ${SLICE}s) | $(tps_cell "$n" "$n") | $(tps_cell "$p" "$n") |" \
        "$(tps_cell "$s" "$n") | $(tps_cell "$l" "$n") | $pct_cell (≥ 90%: $(verdict "$pct" ">=" 90)) |" \
        "$(ratio "$p" "$l") | $(ratio "$s" "$l") |"
    rps=$(per_second "${AUDIT_ROWS:-}" "$(med verify lead_audit)")
    echo "| verify_audit() over ${AUDIT_ROWS:-$VERIFY_ROWS} audit rows (rows/s) | — | — | — |" \
        "$(num "$rps" 0) | ≥ 1000000 rows/s: $(verdict "$rps" ">=" 1000000) | — | — |"
    if [ -n "${R[seal,lead_audit]:-}" ]; then
        seal_rps=$(per_second "$AUDIT_ROWS" "${R[seal,lead_audit]}")
        echo "| audit_seal() of the same rows, once: the hash chain (rows/s) | — | — | — | $(num "$seal_rps" 0) |" \
            "≥ 1000000 rows/s: $(verdict "$seal_rps" ">=" 1000000) | — | — |"
    fi
    if [ -n "${R[tree,lead_audit]:-}" ]; then
        tree_rps=$(per_second "$AUDIT_ROWS" "$(awk -v a="${R[seal,lead_audit]}" -v b="${R[tree,lead_audit]}" 'BEGIN {print a + b}')")
        echo "| audit_seal() with the Merkle tree: the chain and the tree (rows/s; the tree alone: ${R[tree,lead_audit]} ms) | — | — | — |" \
            "$(num "$tree_rps" 0) | ≥ 1000000 rows/s: $(verdict "$tree_rps" ">=" 1000000) | — | — |"
    fi
    if [ -n "${R[history,sealer]:-}" ]; then
        echo "| audit_history() of one record on a log of $HISTORY_ROWS rows, the background sealer running (ms, median of 100 records) | — | — | — |" \
            "${R[history,sealer]} | ≤ 5 ms: $(verdict "${R[history,sealer]}" "<=" 5) | — | — |"
        echo "| audit_row_as_of() of the same records, now, the sealer running (ms, median of 100 records) | — | — | — |" \
            "${R[as_of,sealer]} | — | — | — |"
    fi
    if [ -n "${R[timeline,sealer]:-}" ]; then
        echo "| the viewer: a record's timeline page, server time, the sealer running (ms, median of 50 records) | — | — | — |" \
            "${R[timeline,sealer]} | ≤ 100 ms: $(verdict "${R[timeline,sealer]}" "<=" 100) | — | — |"
        echo "| the viewer: a page of 50 of a table's changes at a random place, the sealer running (ms, median of 50) | — | — | — |" \
            "${R[changes_page,sealer]} | ≤ 100 ms: $(verdict "${R[changes_page,sealer]}" "<=" 100) | — | — |"
    fi
    if [ -n "${R[history,lead_audit]:-}" ]; then
        echo "| audit_history() of the same records, the sealer paused with a tail of $H_TAIL rows not filed (ms, median) | — | — | — |" \
            "${R[history,lead_audit]} | correct, if slower | — | — |"
        echo "| audit_row_as_of() of the same records, the same tail (ms, median of 100 records) | — | — | — |" \
            "${R[as_of,lead_audit]} | — | — | — |"
    fi
    if [ -n "${R[proof,lead_audit]:-}" ]; then
        echo "| audit_proof() of one row on a log of $HISTORY_ROWS rows: a receipt (ms, median of 100 rows) | — | — | — |" \
            "${R[proof,lead_audit]} | ≤ 10 ms: $(verdict "${R[proof,lead_audit]}" "<=" 10) | — | — |"
        echo "| audit_consistency() between two random sizes of the same tree (ms, median of 100) | — | — | — |" \
            "${R[consistency,lead_audit]} | ≤ 10 ms: $(verdict "${R[consistency,lead_audit]}" "<=" 10) | — | — |"
    fi
    if [ -n "${R[insert,floor]:-}" ]; then
        echo
        echo "The floor: the same audit rows, already built, appended with INSERT ... SELECT into a table shaped and" \
            "indexed as audit_log, in the statement's transaction. Overhead = time / unaudited time - 1."
        echo
        echo "| workload | unaudited | floor | lead_audit | floor overhead | lead_audit overhead | lead_audit / floor overhead (target) |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        for w in insert update delete copy; do
            n=$(med "$w" none) f=$(med "$w" floor) l=$(med "$w" lead_audit)
            fo=$(overhead "$f" "$n") lo=$(overhead "$l" "$n")
            r=$(ratio "$lo" "$fo")
            echo "| $w (ms) | $(num "$n") | $(num "$f") | $(num "$l") | $fo | $lo | $r (≤ 1.25: $(verdict "$r" "<=" 1.25)) |"
        done
    fi
    if [ -n "${R[insert,trigger_only]:-}" ] && [ -n "${R[insert,floor]:-}" ]; then
        echo
        echo "What a trigger-based design pays before it renders a single value: the triggers fired with nothing" \
            "captured (lead_audit's row trigger with \`lead_audit.enabled\` off; PL/pgSQL statement triggers with" \
            "transition tables that return at once), plus writing the rows (the floor). Lower bound = 1 + trigger" \
            "overhead + floor overhead, as a ratio to unaudited."
        echo
        echo "| workload | unaudited | row trigger, nothing captured | statement triggers, nothing captured | floor |" \
            "lower bound, row triggers | lower bound, statement triggers | target | lead_audit / unaudited |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for w in insert:2.5 update:2.0 delete:8 copy:2.5; do
            t=${w#*:} w=${w%:*}
            n=$(med "$w" none) to=$(med "$w" trigger_only) ns=$(med "$w" noop_stmt) f=$(med "$w" floor) l=$(med "$w" lead_audit)
            echo "| $w (ms) | $(num "$n") | $(num "$to") | $(num "$ns") | $(num "$f") |" \
                "$(bound "$n" "$to" "$f") | $(bound "$n" "$ns" "$f") | ≤ $t | $(ratio "$l" "$n") |"
        done
    fi
    if [ -n "${R[pgbench,trigger_only]:-}" ]; then
        n=$(med pgbench none) to=$(med pgbench trigger_only) l=$(med pgbench lead_audit)
        echo
        echo "pgbench with lead_audit's row trigger firing but capturing nothing (\`lead_audit.enabled\` off: each" \
            "transaction writes one UNAUDITED row instead of its two audit rows): what a row trigger and one audit" \
            "row per transaction cost before a value is rendered, an upper bound on the TPS of a trigger-based design."
        echo
        echo "| pgbench (TPS) | unaudited | row trigger, nothing captured | lead_audit | target |"
        echo "| --- | ---: | ---: | ---: | ---: |"
        echo "| 2 clients, median of $REPS slices | $(num "$n" 0) | $(tps_cell "$to" "$n") | $(tps_cell "$l" "$n") | ≥ 90% |"
    fi
    if [ -n "${R[insert,lead_audit_untracked]:-}" ]; then
        echo
        echo "What tracking failed attempts costs a successful write (lead_audit preloaded, \`lead_audit.record_attempts\` on and off):"
        echo
        echo "| workload | lead_audit | lead_audit, attempts not tracked | ratio tracked / untracked |"
        echo "| --- | ---: | ---: | ---: |"
        for w in insert update delete copy; do
            l=$(med "$w" lead_audit) u=$(med "$w" lead_audit_untracked)
            echo "| $w (ms) | $(num "$l") | $(num "$u") | $(ratio "$l" "$u") |"
        done
        l=$(med pgbench lead_audit) u=$(med pgbench lead_audit_untracked)
        echo "| pgbench (TPS, higher is better) | $(num "$l" 0) | $(num "$u" 0) | $(ratio "$l" "$u") |"
    fi
    if [ "$MEMORY" = 1 ]; then
        echo
        echo "| one UPDATE of $MEM_ROWS rows | backend's peak private memory (RssAnon) | VmHWM growth (incl. shared buffers touched) |"
        echo "| --- | ---: | ---: |"
        echo "| unaudited | $(mb "${R[rss,none]:-}") | $(mb "${R[hwm,none]:-}") |"
        echo "| no-op AFTER row trigger (PostgreSQL's after-trigger queue) | $(mb "${R[rss,noop_row]:-}") | $(mb "${R[hwm,noop_row]:-}") |"
        echo "| lead_audit | $(mb "${R[rss,lead_audit]:-}") | $(mb "${R[hwm,lead_audit]:-}") |"
    fi
}

report >"$WORK/report.md"
{
    cat "$WORK/report.md"
    echo
    echo "Targets: $(grep -o PASS "$WORK/report.md" | wc -l) PASS, $(grep -o FAIL "$WORK/report.md" | wc -l) FAIL," \
        "$(grep -o ': n/a' "$WORK/report.md" | wc -l) n/a."
} >"$WORK/final.md"
mkdir -p results
cp "$WORK/final.md" "$OUT"
echo
cat "$OUT"
echo
echo "(written to bench/$OUT)"
