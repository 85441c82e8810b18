#!/usr/bin/env bash
# The Merkle tree's proofs end to end, checked by implementations lead_audit
# did not write: Go's golang.org/x/mod/sumdb/tlog and note (Debian's
# golang-golang-x-mod-dev, built into tests/crosscheck), and the Python
# package's checks (lead_audit.tlog, written from the RFC and the C2SP specs).
#
# A cluster signs its checkpoints with a key file (lead_audit.signing_key_file);
# rows are sealed in blocks of many sizes; then: every seal leaves a signed
# checkpoint; receipts (audit_proof) verify offline, in Python and in Go, and
# tampered ones are rejected with the reason; consistency proofs between
# checkpoints verify in both; two witnesses (tests/crosscheck's, C2SP
# tlog-witness) cosign through `lead-audit witness`, including after a
# witness lost its state (409); the log exported as C2SP tlog-tiles
# (`lead-audit export-tiles`, twice: incrementally) gives proofs from the
# files alone in Go; checkpoints signed outside the database
# (`lead-audit sign`); and verify_audit(checkpoint) catching a rebuilt log.
#
# Environment: LEAD_AUDIT_PROOFS_PORT (5480; witnesses on 5478 and 5479),
# LEAD_AUDIT_PROOFS_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PORT_PG=${LEAD_AUDIT_PROOFS_PORT:-5480}
W1_PORT=$((PORT_PG - 2))
W2_PORT=$((PORT_PG - 1))
DIR=${LEAD_AUDIT_PROOFS_DIR:-/tmp/lead_audit_proofs}
WORK=$(mktemp -d /tmp/lead_audit_proofs_work.XXXXXX)
on_exit "rm -rf '$WORK'"
chmod 755 "$WORK"

# ---- the independent implementation, and the Python package ------------------
for p in go /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog; do
    command -v "$p" >/dev/null || [ -e "$p" ] ||
        { echo "run_proofs: $p is missing (scripts/install_deps.sh installs golang-go and golang-golang-x-mod-dev)" >&2; exit 1; }
done
(cd tests/crosscheck && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$WORK/gocache" go build -o "$WORK/crosscheck" .)
GO=$WORK/crosscheck
python_env "$DIR-venv"
on_exit "rm -rf '$DIR-venv'"
LA=$DIR-venv/bin/lead-audit
VERIFY=$DIR-venv/bin/lead-audit-verify
check_cmd "tests/vectors/merkle.json is what make_merkle.py writes (from RFC 9162's definitions)" \
    "$DIR-venv/bin/python" tests/vectors/make_merkle.py --check
check_cmd "Go's tlog and note agree with the golden vectors (roots, paths, proofs, the signed note byte for byte)" \
    "$GO" vectors tests/vectors/merkle.json

# ---- a log signing its checkpoints ---------------------------------------------
"$LA" keygen proofs.example/lead_audit --out "$WORK/log.key" >"$WORK/log.vkey"
"$LA" keygen witness.example/w1 --witness --out "$WORK/w1.key" >"$WORK/w1.vkey"
"$LA" keygen witness.example/w2 --witness --out "$WORK/w2.key" >"$WORK/w2.vkey"
chown postgres "$WORK/log.key"
cluster "$DIR" "$PORT_PG" -c shared_preload_libraries=lead_audit -c lead_audit.seal_interval=0
# Through postgresql.auto.conf, not the command line, so a reload can change it.
q -c "ALTER SYSTEM SET lead_audit.signing_key_file = '$WORK/log.key'" -c "SELECT pg_reload_conf()" >/dev/null
CONN="host=127.0.0.1 port=$PORT_PG user=postgres dbname=postgres"
# A value ending with a newline (a signed note) kept as psql prints it.
keep() { printf '%s\n' "$(q -c "$1")" >"$2"; }
q -c "CREATE EXTENSION lead_audit" -c "CREATE TABLE leads (id int PRIMARY KEY, email text, score int)" \
  -c "SELECT audit_enable('leads')" >/dev/null
# An error's SQLSTATE and message instead of the error.
q >/dev/null <<'SQL'
CREATE FUNCTION try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END;
$$;
SQL
check "audit_verifier_key() is the key file's verifier key" "$(cat "$WORK/log.vkey")" "$(q -c "SELECT audit_verifier_key()")"
next=1
add() { # rows, then one seal
    q -c "INSERT INTO leads SELECT g, 'lead' || g || '@example.com', g % 100 FROM generate_series($next, $((next + $1 - 1))) g" \
      -c "SELECT count(*) FROM audit_seal()" >/dev/null
    next=$((next + $1))
}
for n in 1 1 4 1 1 991; do add "$n"; done
keep "SELECT audit_checkpoint()" "$WORK/cp1000.note"
add 300
add 10500 # two blocks in one seal
keep "SELECT audit_checkpoint()" "$WORK/cp.note"
check "every seal signed the tree's head: one checkpoint per seal, the newest of the whole tree" "8|11800|11800" \
    "$(q -c "SELECT count(*), max(tree_size) FROM audit_checkpoint")|$(sed -n 2p "$WORK/cp.note")"
check "the checkpoint names the log: the key's name and the database" "proofs.example/lead_audit/postgres" \
    "$(head -1 "$WORK/cp.note")"

# ---- receipts ---------------------------------------------------------------------
receipt_ok=0 receipt_bad=0
for id in 1 2 3 8 9 256 257 1000 1001 1300 11300 11301 11800; do
    keep "SELECT audit_proof($id)" "$WORK/r$id"
    out=$("$VERIFY" --receipt "$WORK/r$id" --log-key "$WORK/log.vkey" 2>&1) || true
    want=$(q -c "SELECT encode(checksum, 'hex') FROM audit_log WHERE id = $id")
    got=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["checksum"], d["row"]["id"])' <<<"$out" 2>/dev/null || echo "$out")
    if [ "$got" = "$want $id" ] && "$GO" receipt "$WORK/r$id" "$WORK/log.vkey" >/dev/null; then
        receipt_ok=$((receipt_ok + 1))
    else
        receipt_bad=$((receipt_bad + 1))
        echo "    receipt $id: $got / $want"
    fi
done
check "receipts of rows across blocks and subtrees prove the row's checksum, in Python and in Go's tlog" "13|0" \
    "$receipt_ok|$receipt_bad"
# Tampered receipts: a changed row, index or path; another key; a malformed one.
rejected() { "$VERIFY" --receipt "$1" --log-key "$WORK/log.vkey" "${@:2}" >"$WORK/out" 2>&1; echo $?; }
python3 - "$WORK/r257" "$WORK" <<'PY'
import base64, sys
text = open(sys.argv[1]).read()
head, _, note = text.partition("\n\n")
lines = head.split("\n")
extra = base64.b64decode(lines[1][6:]).replace(b"@example.com", b"@example.org")
open(sys.argv[2] + "/t.row", "w").write("\n".join([lines[0], "extra " + base64.b64encode(extra).decode()] + lines[2:]) + "\n\n" + note)
open(sys.argv[2] + "/t.index", "w").write(text.replace("\nindex 256\n", "\nindex 255\n"))
open(sys.argv[2] + "/t.path", "w").write("\n".join(lines[:3] + [lines[4], lines[3]] + lines[5:]) + "\n\n" + note)
PY
check "a receipt whose row was changed is rejected (1), saying why" "1|1" \
    "$(rejected "$WORK/t.row")|$(grep -c 'inclusion path does not lead' "$WORK/out")"
check "a receipt with another index or a reordered path is rejected" "1|1" \
    "$(rejected "$WORK/t.index")|$(rejected "$WORK/t.path")"
"$LA" keygen proofs.example/lead_audit --out "$WORK/other.key" >"$WORK/other.vkey"
check "a receipt checked with another log key is rejected" "1|1" \
    "$("$VERIFY" --receipt "$WORK/r9" --log-key "$WORK/other.vkey" >"$WORK/out" 2>&1; echo $?)|$(grep -c "not signed by the log's key" "$WORK/out")"
echo "not a receipt" >"$WORK/t.bad"
check "a malformed receipt is bad input (2)" 2 "$(rejected "$WORK/t.bad")"

# ---- consistency proofs -------------------------------------------------------------
cons_ok=0 cons_bad=0
sizes=$(q -c "SELECT string_agg(tree_size::text, ' ' ORDER BY tree_size) FROM audit_checkpoint")
for old in $sizes; do
    for new in $sizes; do
        [ "$old" -le "$new" ] || continue
        keep "SELECT note FROM audit_checkpoint WHERE tree_size = $old" "$WORK/old.note"
        keep "SELECT note FROM audit_checkpoint WHERE tree_size = $new" "$WORK/new.note"
        q -c "SELECT encode(h, 'base64') FROM unnest(audit_consistency($old, $new)) h" >"$WORK/proof"
        if "$VERIFY" --consistency "$WORK/old.note" "$WORK/new.note" "$WORK/proof" --log-key "$WORK/log.vkey" >/dev/null &&
            "$GO" consistency "$WORK/old.note" "$WORK/new.note" "$WORK/proof" "$WORK/log.vkey" >/dev/null; then
            cons_ok=$((cons_ok + 1))
        else
            cons_bad=$((cons_bad + 1))
            echo "    consistency $old -> $new failed"
        fi
    done
done
check "consistency proofs between every pair of checkpoints verify in Python and in Go's tlog" "36|0" "$cons_ok|$cons_bad"
keep "SELECT note FROM audit_checkpoint WHERE tree_size = 7" "$WORK/old.note"
q -c "SELECT encode(h, 'base64') FROM unnest(audit_consistency(8, 11800)) h" >"$WORK/proof"
check "a proof for other sizes does not prove these" 1 \
    "$("$VERIFY" --consistency "$WORK/old.note" "$WORK/cp.note" "$WORK/proof" --log-key "$WORK/log.vkey" >/dev/null; echo $?)"

# ---- witnesses ----------------------------------------------------------------------
witness() { # name port
    "$GO" witness "127.0.0.1:$2" "$WORK/$1.state" "$WORK/$1.key" "$WORK/log.vkey" proofs.example/lead_audit/postgres \
        >"$WORK/$1.log" 2>&1 &
    echo $! >"$WORK/$1.pid"
    for _ in $(seq 1 50); do
        grep -q listening "$WORK/$1.log" 2>/dev/null && return
        sleep 0.1
    done
}
on_exit "kill \$(cat '$WORK/w1.pid' '$WORK/w2.pid' 2>/dev/null) 2>/dev/null"
witness w1 "$W1_PORT"
witness w2 "$W2_PORT"
cosign() {
    "$LA" witness --connect "$CONN" --witness "http://127.0.0.1:$W1_PORT" "$(cat "$WORK/w1.vkey")" \
        --witness "http://127.0.0.1:$W2_PORT" "$(cat "$WORK/w2.vkey")" >"$WORK/witness.out" 2>&1
}
check_cmd "two witnesses cosign the newest checkpoint (lead-audit witness)" cosign
check "audit_checkpoint() carries both cosignatures" 2 \
    "$(q -c "SELECT audit_checkpoint()" | grep -c '^— witness.example/')"
add 50
check_cmd "after a seal, the witnesses cosign again from the size they saw (a consistency proof)" cosign
kill "$(cat "$WORK/w2.pid")"
rm -f "$WORK/w2.state"
witness w2 "$W2_PORT"
add 5
check_cmd "a witness that lost its state answers 409 with its size, and the client goes on from there" cosign
keep "SELECT audit_proof(5)" "$WORK/r5"
check "a receipt's cosignatures meet a quorum of both witnesses' keys" 0 \
    "$(rejected "$WORK/r5" --witness-key "$WORK/w1.vkey" --witness-key "$WORK/w2.vkey" --quorum 2)"
"$LA" keygen witness.example/w3 --witness --out "$WORK/w3.key" >"$WORK/w3.vkey"
check "a quorum counting a witness that did not cosign is not met (rejected)" "1|1" \
    "$(rejected "$WORK/r5" --witness-key "$WORK/w1.vkey" --witness-key "$WORK/w3.vkey" --quorum 2)|$(grep -c '1 of the 2 witnesses' "$WORK/out")"

# ---- tiles -----------------------------------------------------------------------------
check_cmd "lead-audit export-tiles writes the log as C2SP tlog-tiles" "$LA" export-tiles "$WORK/tiles" --connect "$CONN"
check_cmd "Go's tlog reads the tiles: the checkpoint's root, entry bundles and proofs from the files alone" \
    "$GO" tiles "$WORK/tiles" "$WORK/log.vkey"
add 700
check_cmd "a second export adds to the first, after proving the new tree extends it" \
    "$LA" export-tiles "$WORK/tiles" --connect "$CONN"
check_cmd "Go's tlog reads the extended tiles" "$GO" tiles "$WORK/tiles" "$WORK/log.vkey"
check "the exported checkpoint is the newest" "$(q -c "SELECT max(tree_size) FROM audit_tree")" \
    "$(sed -n 2p "$WORK/tiles/checkpoint")"

# ---- verify_audit(checkpoint) ----------------------------------------------------------
check "verify_audit(kept checkpoint): ok, the log extends it" "ok|t" \
    "$(q -v c="$(cat "$WORK/cp1000.note")" <<<"SELECT status, detail LIKE '%extends the kept checkpoint of size 1000' FROM verify_audit(:'c')")"
check "verify_audit(checkpoint signed by another key): the reason" "checkpoint_mismatch" \
    "$(q -v c="$(sed 's/^1000$/999/' "$WORK/cp1000.note")" <<<"SELECT string_agg(DISTINCT status, ',') FROM verify_audit(:'c')")"

# ---- a rebuilt log ----------------------------------------------------------------------
# A superuser who bypasses the guards, removes a row and rebuilds every
# ledger table consistently gets a log that verifies on its own; the
# checkpoint an auditor kept says otherwise.
q >/dev/null <<'SQL'
SET session_replication_role = replica;
DELETE FROM audit_cosignature; DELETE FROM audit_checkpoint; DELETE FROM audit_tree_node;
DELETE FROM audit_tree; DELETE FROM audit_block;
DELETE FROM audit_log WHERE id = 500;
RESET session_replication_role;
SELECT count(*) FROM audit_seal();
SQL
check "the rebuilt log verifies on its own (verify_audit())" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "verify_audit(kept checkpoint) catches the rebuilt log, naming the row where it parts" "checkpoint_mismatch|1001" \
    "$(q -v c="$(cat "$WORK/cp1000.note")" <<<"SELECT status, audit_id FROM verify_audit(:'c')")"
# ---- checkpoints signed outside the database ---------------------------------------------
q -c "ALTER SYSTEM SET lead_audit.signing_key_file = ''" -c "SELECT pg_reload_conf()" >/dev/null
"$LA" keygen offline.example/lead_audit --out "$WORK/offline.key" >"$WORK/offline.vkey"
q -c "ALTER DATABASE postgres SET lead_audit.verifier_key = '$(cat "$WORK/offline.vkey")'" \
  -c "ALTER DATABASE postgres SET lead_audit.log_origin = 'offline.example/crm'"
sleep 0.5
add 10
check "without a key file, a seal signs nothing" f \
    "$(q -c "SELECT max(tree_size) = (SELECT max(tree_size) FROM audit_tree) FROM audit_checkpoint")"
check_cmd "lead-audit sign signs the newest head with a key the database never sees" \
    "$LA" sign --connect "$CONN" --key "$WORK/offline.key"
check "audit_checkpoint() is the one signed outside, of the whole tree, under the configured origin" "offline.example/crm|t" \
    "$(q -c "SELECT split_part(audit_checkpoint(), E'\n', 1), split_part(audit_checkpoint(), E'\n', 2)::bigint = (SELECT max(tree_size) FROM audit_tree)")"
keep "SELECT audit_proof((SELECT max(id) FROM audit_log))" "$WORK/rlast"
check "a receipt against it verifies with the offline key" 0 \
    "$("$VERIFY" --receipt "$WORK/rlast" --log-key "$WORK/offline.vkey" >/dev/null 2>&1; echo $?)"
head=$(q -c "SELECT audit_tree_head()")
note=$(printf '%s\n\n%s' "$head" "$(python3 - "$WORK/other.key" "$head" <<'PY'
import sys
sys.path.insert(0, "clients/python/src")
from lead_audit import tlog
key = tlog.PrivateKey.parse(open(sys.argv[1]).read())
print(key.signature_line((sys.argv[2] + "\n").encode()), end="")
PY
)")
check "a checkpoint signed by another key is refused (22023)" 22023 \
    "$(q -v n="$note" <<<"SELECT split_part(try(format('SELECT audit_add_checkpoint(%L)', :'n')), ':', 1)")"
q -c "ALTER DATABASE postgres RESET lead_audit.verifier_key" -c "ALTER DATABASE postgres RESET lead_audit.log_origin" \
  -c "ALTER SYSTEM RESET lead_audit.signing_key_file" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

finish proofs
