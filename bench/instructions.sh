#!/usr/bin/env bash
# Instructions, not time: the bulk workloads of run.sh counted by valgrind
# (cachegrind), one single-user backend per workload, unaudited and with
# lead_audit. The counts repeat to a few parts in a million from run to run,
# where timings on a shared 2-core machine move by 10-30%: this is how a
# change of a few percent in capture is measured (see bench/RESULTS.md). With two
# builds of lead_audit.so, it compares them on every workload (an A/B).
#
#   bash bench/instructions.sh                  # the installed build against unaudited
#   bash bench/instructions.sh OLD.so NEW.so    # two builds, and each against unaudited
#
# Knobs: INSTR_ROWS (20000), INSTR_DIR (/tmp/lead_audit_instructions).
# valgrind runs the backend about 50 times slower: 20,000 rows take a few
# minutes in all. valgrind offers the CPU no SHA extensions, so SHA-256 runs
# in the sha2 crate's portable code there, many times the instructions of the
# SHA-NI path it takes on this hardware: the report shows lead_audit's
# figures with and without SHA-256.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"

ROWS=${INSTR_ROWS:-20000}
DIR=${INSTR_DIR:-/tmp/lead_audit_instructions}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || { echo "instructions: INSTR_ROWS must be a positive whole number" >&2; exit 2; }
PGBIN=${PGBIN:-$(../scripts/postgres.sh bindir "${PG:-15}")}
LIB="$("$PGBIN/pg_config" --pkglibdir)/lead_audit.so"
command -v valgrind >/dev/null && command -v cg_annotate >/dev/null ||
    { echo "instructions: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
[ -f "$LIB" ] || { echo "instructions: lead_audit is not installed (make install)" >&2; exit 2; }
BUILDS=()
if [ $# = 2 ]; then
    for so in "$@"; do [ -f "$so" ] || { echo "instructions: no file $so" >&2; exit 2; }; done
    BUILDS=("$1" "$2")
elif [ $# != 0 ]; then
    echo "usage: bash bench/instructions.sh [OLD.so NEW.so]" >&2
    exit 2
fi
WORK=$(mktemp -d /tmp/lead_audit_instr_work.XXXXXX)
[ "$(id -u)" != 0 ] || chown postgres "$WORK" # the server (user postgres) writes its counts here
SAVED=$WORK/installed.so
cp "$LIB" "$SAVED"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# Puts a build in place without writing over the file a running server maps.
use_build() { cp "$1" "$LIB.tmp" && mv "$LIB.tmp" "$LIB"; }
server() { as_pg "$PGBIN/pg_ctl" -D "$DIR" -o "-p 5497 -k $DIR -c listen_addresses=''" -w "$1" >/dev/null; }
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p 5497 -U postgres "$@"; }
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$DIR" -m immediate -w stop >/dev/null 2>&1 || true
    [ ! -f "$SAVED" ] || use_build "$SAVED"
    rm -rf "$DIR" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- templates ---------------------------------------------------------------
# One cluster, lead_audit preloaded as in production; four template databases:
# an empty leads table and one with ROWS rows, unaudited and audited.
rm -rf "$DIR"
as_pg "$PGBIN/initdb" -D "$DIR" -A trust >/dev/null
cat >>"$DIR/postgresql.conf" <<EOF
shared_preload_libraries = 'lead_audit'
fsync = off
autovacuum = off
jit = off
shared_buffers = 512MB
max_wal_size = 8GB
EOF
server start
for t in plain plain_rows audited audited_rows; do
    psql_ -c "CREATE DATABASE $t"
    psql_ -d "$t" -f sql/leads.sql >/dev/null
    case $t in audited*) psql_ -d "$t" -f sql/lead_audit.sql >/dev/null ;; esac
    case $t in *_rows) psql_ -d "$t" -v rows="$ROWS" -f sql/insert.sql && psql_ -d "$t" -c "VACUUM ANALYZE" ;; esac
done
psql_ -d plain_rows -c "COPY (SELECT email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue
                              FROM leads) TO '$DIR/leads.copy'"
server stop

# ---- counting ----------------------------------------------------------------
declare -A SQL=(
    [insert]="$(grep -v '^--' sql/insert.sql | tr '\n' ' ' | sed "s/:rows/$ROWS/")"
    [update]="UPDATE leads SET status = 'contacted', score = score + 1;"
    [delete]="DELETE FROM leads WHERE id % 2 = 0;"
    [copy]="COPY leads (email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue) FROM '$DIR/leads.copy';"
    [none]="SELECT 1;"
)
# oltp: pgbench_oltp.sql's transaction (SET LOCAL actor, UPDATE one lead,
# INSERT one) OLTP_TX times, a statement per line as single-user mode reads
# them: what each small transaction costs, from parsing to commit.
OLTP_TX=${INSTR_OLTP_TX:-2000}
SQL[oltp]="$(awk -v n="$OLTP_TX" -v rows="$ROWS" 'BEGIN {
    q = sprintf("%c", 39) # a single quote, which this awk program cannot spell
    for (i = 0; i < n; i++) {
        id = (i * 7919) % rows + 1
        print "BEGIN;"
        print "SET LOCAL lead_audit.actor_id = " (i % 1000 + 1) ";"
        print "UPDATE leads SET score = score + 1, updated_at = now() WHERE id = " id ";"
        print "INSERT INTO leads (email, status, source) VALUES (" q "oltp" id "@example.com" q ", " q "new" q ", " q "web" q ");"
        print "COMMIT;"
    } }')"
declare -A FROM=([insert]="" [update]=_rows [delete]=_rows [copy]="" [oltp]=_rows [none]="")

# count NAME WORKLOAD TEMPLATE: prints "total sha256" instructions of one
# single-user session that runs the workload on a fresh copy of the template.
count() {
    local out=$WORK/$1.$2.cg
    server start
    psql_ -c "DROP DATABASE IF EXISTS run" -c "CREATE DATABASE run TEMPLATE $3"
    server stop
    echo "${SQL[$2]}" | as_pg valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
        "$PGBIN/postgres" --single -D "$DIR" run >/dev/null 2>"$WORK/valgrind.log" ||
        { cat "$WORK/valgrind.log" >&2; exit 1; }
    local total sha
    [ -s "$out" ] || { cat "$WORK/valgrind.log" >&2; echo "instructions: valgrind wrote no counts" >&2; exit 1; }
    total=$(sed -n 's/^summary: *//p' "$out")
    sha=$(cg_annotate --auto=no --threshold=0 "$out" |
        awk '/sha2::sha256/ {gsub(",", "", $1); s += $1} END {print s + 0}')
    echo "$total $sha"
}

declare -A IR=() SHA=()
WAYS=(unaudited)
if [ ${#BUILDS[@]} = 2 ]; then WAYS+=(old new); else WAYS+=(lead_audit); fi
for way in "${WAYS[@]}"; do
    case $way in old) use_build "${BUILDS[0]}" ;; new) use_build "${BUILDS[1]}" ;; *) use_build "$SAVED" ;; esac
    db=audited
    [ "$way" != unaudited ] || db=plain
    for w in none insert update delete copy oltp; do
        counted=$(count "$way" "$w" "$db${FROM[$w]}")
        read -r IR[$way,$w] SHA[$way,$w] <<<"$counted"
        echo "    $way $w: ${IR[$way,$w]} instructions (SHA-256 ${SHA[$way,$w]})"
    done
done

# ---- report ------------------------------------------------------------------
# A workload's instructions: the session's, less an idle session's (SELECT 1).
net() { echo $((IR[$1,$2] - IR[$1,none])); }
m() { awk -v v="$1" 'BEGIN {printf("%.1f", v / 1e6)}'; }
r() { awk -v a="$1" -v b="$2" 'BEGIN {printf("%.2f", a / b)}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf("%+.2f%%", (a / b - 1) * 100)}'; }
echo
echo "# Instructions per statement ($ROWS rows; millions, an idle session's subtracted)"
echo
AUDITED=("${WAYS[@]:1}")
header="| workload | unaudited |"
sep="| --- | ---: |"
for way in "${AUDITED[@]}"; do
    header+=" $way | $way without SHA-256 | $way / unaudited | without SHA-256 / unaudited |"
    sep+=" ---: | ---: | ---: | ---: |"
done
[ ${#AUDITED[@]} = 1 ] || { header+=" new / old | new / old without SHA-256 |"; sep+=" ---: | ---: |"; }
echo "$header"
echo "$sep"
for w in insert update delete copy oltp; do
    n=$(net unaudited "$w")
    line="| $w | $(m "$n") |"
    for way in "${AUDITED[@]}"; do
        l=$(net "$way" "$w") s=${SHA[$way,$w]}
        line+=" $(m "$l") | $(m $((l - s))) | $(r "$l" "$n") | $(r $((l - s)) "$n") |"
    done
    if [ ${#AUDITED[@]} = 2 ]; then
        o=$(net old "$w") nw=$(net new "$w")
        line+=" $(pct "$nw" "$o") | $(pct $((nw - SHA[new,$w])) $((o - SHA[old,$w]))) |"
    fi
    echo "$line"
done
