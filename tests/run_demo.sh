#!/usr/bin/env bash
# The demo (scripts/demo.sh, what `make demo` runs) must run to the end, be
# readable in a terminal of 100 columns (no line of its output wider, tabs
# counted to the next multiple of 8, as a terminal shows them), and still tell
# its story: the failed attempts recorded, verify_audit() ok before the
# tampering, the redaction, the revert, the partitions and the tables without a
# primary key, then the tampering caught by verify_audit() and by the Python
# verifier on a dump. Runs the demo's own cluster, kept after the demo
# (LEAD_AUDIT_DEMO_KEEP=1) so its server log is checked too; < 1 minute.
#
# Environment: LEAD_AUDIT_DEMO_PORT (5491, the demo's), LEAD_AUDIT_DEMO_DIR
# (/tmp/lead_audit_run_demo), LEAD_AUDIT_DEMO_MAX_WIDTH (100: the widest line
# allowed; lower it to see the width check fail).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

DIR=${LEAD_AUDIT_DEMO_DIR:-/tmp/lead_audit_run_demo}
MAX_WIDTH=${LEAD_AUDIT_DEMO_MAX_WIDTH:-100}
OUT=$(mktemp /tmp/lead_audit_run_demo.XXXXXX)
on_exit "rm -f '$OUT'"
on_exit "'$LIB_ROOT/scripts/pgcluster.sh' destroy '$DIR'"

# As `make demo` runs it: lib.sh's PGOPTIONS (client_min_messages=warning) would
# hide the notices a person sees.
rc=0
env -u PGOPTIONS LEAD_AUDIT_DEMO_DIR="$DIR" LEAD_AUDIT_DEMO_KEEP=1 bash scripts/demo.sh >"$OUT" 2>&1 || rc=$?
check "the demo exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    /' "$OUT" | tail -20

# The output's lines as a terminal shows them, each prefixed with its width.
widths() {
    local LC_ALL=C.UTF-8 line
    expand "$OUT" | while IFS= read -r line; do printf '%d\t%s\n' "${#line}" "$line"; done
}
# Fails, naming the widest lines, when a line is wider than MAX_WIDTH.
fits() {
    local wide
    wide=$(widths | nl -ba -w1 -s$'\t' | awk -F'\t' -v max="$MAX_WIDTH" '$2 > max' | sort -t$'\t' -k2,2nr)
    [ -z "$wide" ] && return 0
    echo "$(printf '%s\n' "$wide" | wc -l) lines wider than $MAX_WIDTH columns; the widest (line, width, text):"
    head -10 <<<"$wide" | cut -c1-200
    return 1
}
widest=$(widths | cut -f1 | sort -n | tail -1)
check_cmd "every line fits in $MAX_WIDTH columns (the widest: ${widest:-?})" fits

# The story's outcomes, in the output: up to the tampering (step 9), and from it
# on. (Here-strings rather than pipes into grep -q: under pipefail, a writer cut
# short by grep -q's early exit would fail the check.)
has() { grep -Eq -- "$1" "$OUT"; }
STORY=$(sed '/^==> 9\. /,$d' "$OUT")
TAMPERED=$(sed -n '/^==> 9\. /,$p' "$OUT")
between() { sed -n "/$1/,/$2/p" "$OUT"; }

check "the twelve steps, in order" "1 2 3 4 5 6 7 8 9 10 11 12" \
    "$(sed -En 's/^==> ([0-9]+)\. .*/\1/p' "$OUT" | paste -sd' ')"
# Each ERROR the demo shows, by the start of its message.
errors() { grep '^ERROR:  ' "$OUT" | cut -c9-40 | paste -sd'|'; }
check "only the story's six errors: unauditable, not null, 3 privileges, refused revert" \
    'lead_audit: invalid value for se|null value in column "status" of|permission denied for table lead|permission denied for table audi|permission denied to set paramet|lead_audit: cannot revert audit ' \
    "$(errors)"
check "the four failed writes are in the log as failed attempts" 4 "$(grep -Ec '^outcome +\| failed$' "$OUT")"

ok_before_tampering() {
    grep -Eq '^status +\| ok$' <<<"$STORY" &&
        grep -Eq '^ +\| every checksum, block and link matches$' <<<"$STORY"
}
check_cmd "verify_audit(digest) says ok before the tampering" ok_before_tampering
check "audit_history shows lead 1's three changes" 3 \
    "$(between 'history of lead 1' '^==> lead 1 as it was' | grep -c '^-\[ RECORD ')"
as_of() { has '^ status +\| "new" +\| "qualified"$' && has '^ score +\| 40 +\| 85$'; }
check_cmd "audit_row_as_of: lead 1 was new, 40 before req-a11b, is qualified, 85 now" as_of
check_cmd "the redacted phone number is logged only as its keyed hash" has '^phone +\| hmac-sha256:[0-9a-f]{64}$'
check "the statement comment's context is recorded" "42 req-c0de" \
    "$(between '^phone .*hmac-sha256:' '^request_id' | awk '$1 == "actor_id" || $1 == "request_id" {printf "%s%s", n++ ? " " : "", $3}')"

check "audit_revert undid req-oops's 2 changes, each audit row marked as its revert" "2 2" \
    "$(grep -A2 '^ changes_undone $' "$OUT" | tail -1 | tr -d ' ') $(grep -Ec '^ +\| +"request_id": "req-oops" *\+$' "$OUT")"
# The leads after the revert: lead 1 as before req-oops, the lead it inserted gone.
check "lead 1 is back to qualified, 85; the junk lead is gone" "1|qualified|85 (1 row)" \
    "$(between 'AS changes_undone' '^==> the undo' | sed -n '/^ id | /,/rows*)$/p' |
        awk -F' *[|] *' 'NF == 3 && $1 ~ /^ *[0-9]+$/ {gsub(/ /, ""); printf "%s|%s|%s ", $1, $2, $3} /rows*\)$/ {print}')"
check_cmd "an older request's revert is refused (later changes)" has '^ERROR:  lead_audit: cannot revert audit row'

check_cmd "a partition attached after audit_enable on its parent is captured" \
    has '^table_name +\| public\.lead_events_2027$'
check "record_key: the primary key, else the replica identity index, else the whole row" \
    "lead_events=full row,lead_tags=replica identity,leads=primary key" \
    "$(between '^SELECT table_name, record_key FROM audit_tables' 'rows)$' |
        awk -F' *[|] *' 'NF == 2 && $1 ~ /^ lead/ {sub(/^ /, "", $1); sub(/ *$/, "", $2); printf "%s%s=%s", n++ ? "," : "", $1, $2}')"

# "status audit_id" of each finding verify_audit() printed (expanded display).
findings() { awk '/^status +\|/ {s = $3} /^audit_id +\|/ {printf "%s%s %s", n++ ? "," : "", s, $3}'; }
check "verify_audit(digest) after the tampering: row 4 modified, row 8 deleted" "modified 4,deleted 8" \
    "$(findings <<<"$TAMPERED")"
verifier_agrees() {
    grep -q $'^modified\t4\t1\t' <<<"$TAMPERED" && grep -q $'^deleted\t8\t1\t' <<<"$TAMPERED" &&
        grep -q '^2 problems (1 modified, 1 deleted); ' <<<"$TAMPERED" &&
        grep -q '^(exit status 1: ' <<<"$TAMPERED"
}
check_cmd "the Python verifier on the dump finds the same (exit status 1)" verifier_agrees
check_cmd "every seal signed a checkpoint: the newest, of the whole tree, shown" \
    has '^— demo\.example/lead_audit [A-Za-z0-9+/]{16}…$'
check_cmd "the witness cosigned the checkpoint" has '^witness\.example/w1: cosigned the checkpoint of [0-9]+ rows$'
receipt_proven() {
    has '^proven: row 2 is leaf 1 of the tree of [0-9]+ rows of demo\.example/lead_audit/postgres,$' &&
        has '^ +cosigned by witness\.example/w1; checksum [0-9a-f]{32}…$' &&
        has '^ +INSERT of public\.leads \{"id": 1\} by actor 42, request req-9f2c$'
}
check_cmd "lead 1's receipt is proven offline, cosigned, with the row's values" receipt_proven
check_cmd "the rewritten row's receipt is rejected, saying why" \
    has '^rejected: the row is not leaf 3 of the tree of [0-9]+ the checkpoint signs'
check_cmd "the viewer's verification run found the tampering" \
    has '^POST /audit/verification: [0-9]+ findings, e\.g\. row [0-9]+ [a-z_]+$'
check_cmd "the viewer shows lead 1's INSERT by actor 42" has '^  #2 +INSERT +by 42$'
check_cmd "the viewer flags the rewritten row on lead 1's page" has '^  #4 .*FLAGGED by the verification$'
check_cmd "the demo ran to its end" has '^==> demo finished; stopping the cluster$'

check_cmd "the demo kept its cluster's server log (LEAD_AUDIT_DEMO_KEEP=1)" test -s "$DIR/server.log"
check_log demo "$DIR/server.log"
finish demo
