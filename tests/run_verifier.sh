#!/usr/bin/env bash
# The independent verifier (lead_audit.verify, the Python client's
# lead-audit-verify, run here from the source with Python's standard library
# only) must agree with verify_audit(): same findings (status, audit_id,
# block_id), same order, exit status 0 when intact and 1 when not. Checked on
# an intact ledger (several dump time zones, an id range), on a kept digest
# after the newest block was replaced, after tampering with rows and blocks,
# and on unreadable input (exit status 2). Runs its own cluster; < 1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."

. tests/lib.sh
WORK=$(mktemp -d /tmp/lead_audit_verifier_work.XXXXXX)
on_exit "rm -rf '$WORK'"
export PYTHONPATH=$PWD/clients/python/src
VERIFY=(python3 -m lead_audit.verify)
export PGCLIENTENCODING=UTF8

echo "== unit tests (clients/python/tests/test_verify.py, with the golden vectors of tests/vectors)"
check_cmd "unit tests of the parsing, the canonical forms and the golden vectors" \
    python3 -m unittest discover -s clients/python/tests -p test_verify.py
check_cmd "tests/vectors/*.json are what make_vectors.py writes" tests/vectors/make_vectors.py --check

cluster "${LEAD_AUDIT_VERIFIER_DIR:-/tmp/lead_audit_verifier}" "${LEAD_AUDIT_VERIFIER_PORT:-5495}"

# ---------------------------------------------------------------------------
# The data: column types whose text needs escaping, audited with context.
# ---------------------------------------------------------------------------
q >/dev/null <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TYPE lead_stage AS ENUM ('new', 'qualified', 'won');
CREATE TABLE leads (
    id          bigint PRIMARY KEY,
    email       text,
    note        text,
    "Odd ""col"", name" text,
    profile     jsonb,
    score       numeric(20,4),
    ratio       double precision,
    seen_at     timestamptz,
    due         date,
    tags        text[],
    counts      int[],
    stage       lead_stage,
    ip          inet,
    uid         uuid,
    photo       bytea,
    span        interval,
    is_deleted  boolean NOT NULL DEFAULT false
);
CREATE TABLE lead_notes (lead_id bigint, seq int, body text, PRIMARY KEY (lead_id, seq));
SELECT audit_enable('leads');
SELECT audit_enable('lead_notes');

SET application_name = 'verifier "test" app';
BEGIN;
SET LOCAL lead_audit.actor_id = E'ädmin\twith tab';
SET LOCAL lead_audit.client_ip = '2001:db8::7';
SET LOCAL lead_audit.user_agent = E'Agent\\with\\backslashes\nand a newline\r\x01\x0b\x7f';
SET LOCAL lead_audit.request_id = 'req-1 ✓';
SET LOCAL lead_audit.context = '{"route": "POST /leads", "quote": "say \"hi\"", "path": "C:\\tmp\\new", "n": [1, 2.50, null, -0.0, 1e-7, 1e30], "nested": {"a": {"b": [], "c": {}}}, "": "empty key", "ctl": "\u0001\u001f\u007f"}';
INSERT INTO leads VALUES
  (1, 'ann@example.com', E'tab\there, newline\nthere, cr\rthere, backslash \\ end', E'quote " and \\N',
   '{"a": {"b": [1, "x\\y", true, false, null, {"deep": [[[["bottom"]]]]}]}, "e": "", "q": "\"quoted\"", "u": "\u00e9 ✓ 😀", "num": 12345678901234567890.123456789}',
   12.5, 0.1, '2026-01-02 03:04:05.678+02', '2028-02-29', '{a,"b c","d\"e","f\\g",NULL}', '{1,NULL,3}', 'new',
   '192.168.0.1/24', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff5c0a', '1 year 2 mons 3 days 04:05:06.789'),
  (2, 'bob@example.com', 'ünïcødé ✓ 😀 – “typographic”', '~', '"just a string"', -0.001, 'NaN', 'infinity', NULL, '{}', '{}', 'won',
   '::ffff:1.2.3.4', NULL, '\x', '-1 day'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, '1999-12-31 23:59:59.999999+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'big@example.com', repeat('long text ', 500), '',
   (SELECT jsonb_object_agg('key' || g, CASE WHEN g % 3 = 0 THEN to_jsonb(g * 1.5) WHEN g % 3 = 1 THEN to_jsonb(repeat('v', g))
                                        ELSE jsonb_build_array(g, 'x', jsonb_build_object('k', g)) END) FROM generate_series(1, 45) g),
   1e10, 1e-300, '0001-01-01 00:00:00+00', '0044-03-15 BC', NULL, (SELECT array_agg(g) FROM generate_series(1, 40) g), 'qualified',
   '10.0.0.0/8', NULL, decode(repeat('ab', 3000), 'hex'), '0'),
  (5, 'huge@example.com', repeat(md5('x'), 4000), NULL,
   jsonb_build_object('blob', repeat('z', 100000), 'arr', (SELECT jsonb_agg(g) FROM generate_series(1, 50) g)),
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO lead_notes VALUES (1, 1, 'first'), (1, 2, E'second\twith tab'), (2, 1, NULL);
COMMIT;

BEGIN;
SET LOCAL lead_audit.actor_id = 'user-42';
SET LOCAL lead_audit.client_ip = '10.1.2.0/24';
SET LOCAL lead_audit.request_id = 'req-2';
SET LOCAL lead_audit.context = '{"reason": "back\\slash \"and\" quotes", "list": ["a", {"b": null}]}';
UPDATE leads SET note = E'line1\nline2', score = score * 2, tags = array_append(tags, 'new tag') WHERE id = 1;
UPDATE leads SET "Odd ""col"", name" = 'renamed', stage = 'qualified', profile = profile || '{"added": [1, 2]}' WHERE id IN (1, 2);
UPDATE leads SET is_deleted = true WHERE id = 2;
COMMIT;

BEGIN;
SET LOCAL lead_audit.actor_id = 'user-43';
SET LOCAL lead_audit.client_ip = '::1';
UPDATE leads SET is_deleted = false WHERE id = 2;
UPDATE leads SET is_deleted = true WHERE id = 3;
DELETE FROM leads WHERE id = 4;
TRUNCATE lead_notes;
COMMIT;
-- Block 1: audit rows 1-21 (1 and 2: the DDL rows of the two audit_enable calls).
SELECT count(*) FROM audit_seal();

-- Blocks 2 and 3: 10100 rows in one seal, split at 10000 rows per block
-- (block 2: audit ids 22-10021, block 3: 10022-10121).
BEGIN;
SET LOCAL lead_audit.actor_id = 'importer';
SET LOCAL lead_audit.client_ip = '203.0.113.0/24';
SET LOCAL lead_audit.context = '{"batch": "import-7"}';
INSERT INTO leads (id, email, note, score, seen_at, tags)
SELECT g, 'lead' || g || '@example.com', E'bulk\t' || g, g / 7.0, '2026-03-01 00:00:00+00'::timestamptz + g * interval '1 second',
       ARRAY['bulk', 'n' || g]
FROM generate_series(1000, 11099) g;
COMMIT;
SELECT count(*) FROM audit_seal();

-- Block 4: ids past 1.5 million (passes are cut by rows, not by the span of ids).
SELECT setval('audit_log_id_seq', 1500000);
BEGIN;
SET LOCAL lead_audit.actor_id = 'user-44';
SET LOCAL lead_audit.client_ip = 'fe80::1/64';
UPDATE leads SET score = score + 1, profile = '{"late": true}' WHERE id BETWEEN 1000 AND 1009;
COMMIT;
SELECT count(*) FROM audit_seal();

-- Not sealed yet: soft deletes, deletes, and a TRUNCATE that records its rows.
BEGIN;
SET LOCAL lead_audit.actor_id = 'user-45';
SET LOCAL lead_audit.request_id = 'req-unsealed';
UPDATE leads SET is_deleted = true WHERE id BETWEEN 2000 AND 2004;
DELETE FROM leads WHERE id BETWEEN 3000 AND 3004;
COMMIT;
TRUNCATE leads;
INSERT INTO leads (id, note) VALUES (100, 'after the last seal');
SQL

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
dump() { # name [TimeZone]: COPY both tables as docs/tamper-evidence.md says
    local tz=${2:-UTC}
    for t in audit_log audit_block; do
        q -c "SET TimeZone = '$tz'" -c "SET DateStyle = 'ISO, MDY'" -c "SET IntervalStyle = 'postgres'" \
          -c "SET bytea_output = 'hex'" -c "COPY $t TO STDOUT" >"$WORK/$1.$t"
    done
}
# verify_audit(ARGS)'s (status, audit_id, block_id), in its order, without the
# ok row, nor the Merkle tree's findings: the verifier reads the chain (the
# tree is checked outside by receipts and consistency proofs, run_proofs.sh).
sql_findings() { # out, verify_audit arguments; SQL_PASS_ROWS: lead_audit.verify_pass_rows
    q -F $'\t' -c "SET lead_audit.verify_pass_rows = ${SQL_PASS_ROWS:-1000000}" \
        -c "SELECT status, audit_id, block_id FROM verify_audit($2)
            WHERE status NOT IN ('ok', 'tree_mismatch', 'checkpoint_mismatch')" >"$1"
}
# The verifier's: every line but the summary (the last one), first three fields.
run_verifier() { # name, verifier options...: writes NAME.out, NAME.rc, NAME.py
    local name=$1
    shift
    local rc=0
    "${VERIFY[@]}" "$WORK/$name.audit_log" "$WORK/$name.audit_block" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
    sed '$d' "$WORK/$name.out" | cut -f1-3 >"$WORK/$name.py"
}
same_set() { diff <(sort "$1") <(sort "$2"); }
same_order() { diff "$1" "$2"; }
exit_status() { # name, expected
    local rc
    rc=$(cat "$WORK/$1.rc")
    [ "$rc" = "$2" ] || { echo "exit status $rc, expected $2"; cat "$WORK/$1.err"; return 1; }
}
has() { grep -q "$@"; }
has_lines() { # file, findings "status<TAB>audit_id<TAB>block_id"...: each is in the file
    local f=$1 p
    shift
    cut -f1-3 "$f" >"$WORK/findings.txt"
    for p; do grep -qxF -- "$p" "$WORK/findings.txt" || { echo "no finding '$p'"; return 1; }; done
}
# Runs the verifier on dump NAME and compares with verify_audit(SQL_ARGS).
agree() { # label, name, expected exit status, verify_audit arguments, verifier options...
    local label=$1 name=$2 rc=$3 sqlargs=$4
    shift 4
    run_verifier "$name" "$@"
    sql_findings "$WORK/$name.sql" "$sqlargs"
    echo "   verify_audit: $(wc -l <"$WORK/$name.sql") findings; verifier: $(tail -1 "$WORK/$name.out" | cut -c1-150)"
    check_cmd "$label: same (status, audit_id, block_id) set as verify_audit" same_set "$WORK/$name.sql" "$WORK/$name.py"
    check_cmd "$label: same order as verify_audit" same_order "$WORK/$name.sql" "$WORK/$name.py"
    check_cmd "$label: the verifier exits $rc" exit_status "$name" "$rc"
}
summary_matches() { # name: the verifier's ok line says what verify_audit's ok row says
    local detail
    detail=$(q -c "SELECT detail FROM verify_audit() WHERE status = 'ok'")
    [ "$(tail -1 "$WORK/$1.out")" = "ok: $detail" ] || { echo "verify_audit: ok: $detail"; tail -1 "$WORK/$1.out"; return 1; }
}

# ---------------------------------------------------------------------------
echo "== intact ledger"
dump intact
agree "intact" intact 0 ""
cp "$WORK/intact.audit_log" "$WORK/intact-3000.audit_log"
cp "$WORK/intact.audit_block" "$WORK/intact-3000.audit_block"
SQL_PASS_ROWS=3000 agree "intact, passes of 3000 rows" intact-3000 0 "" --pass-rows 3000
check_cmd "intact: the verifier's summary counts rows, blocks and unsealed rows as verify_audit does" summary_matches intact
check_cmd "intact: 4 blocks sealed, rows left unsealed" has -E '^ok: [0-9]+ audit rows verified \([0-9]+ sealed in 4 blocks, [1-9][0-9]* not sealed yet\)' "$WORK/intact.out"
for tz in Asia/Kathmandu America/St_Johns; do # +05:45, -03:30 (or -02:30)
    dump "tz_${tz//\//_}" "$tz"
    check_cmd "intact, dumped with TimeZone $tz: the verifier's output is the same as with UTC" \
        diff <("${VERIFY[@]}" "$WORK/tz_${tz//\//_}.audit_log" "$WORK/tz_${tz//\//_}.audit_block") "$WORK/intact.out"
done
cp "$WORK/intact.audit_log" "$WORK/range.audit_log"
cp "$WORK/intact.audit_block" "$WORK/range.audit_block"
agree "intact, audit ids 5 to 1000000" range 0 "NULL, 5, 1000000" --from-id 5 --to-id 1000000

# ---------------------------------------------------------------------------
echo "== a kept digest, after the newest block was deleted and re-sealed"
digest=$(q -c "SELECT audit_digest()")
echo "$digest" >"$WORK/digest.json"
echo "   kept: $digest"
agree "digest of the head, untouched" intact 0 "'$digest'" --digest "$digest"
replaced=$(q -c "SELECT max(id) FROM audit_block")
q >/dev/null <<'SQL'
SET session_replication_role = replica;
DELETE FROM audit_block WHERE id = (SELECT max(id) FROM audit_block);
RESET session_replication_role;
SELECT count(*) FROM audit_seal();
SQL
dump resealed
agree "re-sealed, no digest" resealed 0 ""
# The Merkle tree kept the replaced block's leaves, and goes on from them.
check "re-sealed: verify_audit() finds the replaced block out of the Merkle tree, even without a digest" \
    "tree_mismatch|$replaced" "$(q -c "SELECT status, block_id FROM verify_audit() WHERE status <> 'unsealed' LIMIT 1")"
agree "re-sealed, the kept digest (JSON text)" resealed 1 "'$digest'" --digest "$digest"
check_cmd "re-sealed: the verifier reports digest_mismatch for the kept block" \
    has_lines "$WORK/resealed.out" "digest_mismatch"$'\t\t'"$(q -c "SELECT '$digest'::jsonb ->> 'block_id'")"
agree "re-sealed, the kept digest (a file)" resealed 1 "'$digest'" --digest "$WORK/digest.json"
agree "re-sealed, a digest of a block not in the chain" resealed 1 \
    "'{\"block_id\": 9, \"block_hash\": \"00\"}'" --digest '{"block_id": 9, "block_hash": "00"}'

# ---------------------------------------------------------------------------
echo "== tampered rows and blocks (as superuser, triggers off)"
q >/dev/null <<'SQL'
INSERT INTO leads (id, note) VALUES (101, 'unsealed one'), (102, 'unsealed two');
SET session_replication_role = replica;
-- modified: content edited (block 1), and a checksum replaced (block 1)
UPDATE audit_log SET new_values = new_values || '{"email": "evil@example.com"}' WHERE id = 1;
UPDATE audit_log SET actor_id = 'someone else', checksum = sha256('recomputed by the forger') WHERE id = 2;
-- deleted: a sealed row
DELETE FROM audit_log WHERE id = 5;
-- forged: a row inside the sealed range that no block holds
INSERT INTO audit_log SELECT 900000, tx_id, logged_at, table_oid, table_name, action, soft_delete, record_pk, old_values,
       new_values, changed_columns, 'forger', client_ip, user_agent, request_id, context, db_user, application_name, checksum
FROM audit_log WHERE id = 6;
-- moved: two rows of block 1 swap ids through a temporary one
UPDATE audit_log SET id = -1 WHERE id = 7;
UPDATE audit_log SET id = 7 WHERE id = 8;
UPDATE audit_log SET id = 8 WHERE id = -1;
-- ids swapped across verify_audit's passes (block 1 and the newest block)
UPDATE audit_log SET id = -1 WHERE id = 9;
UPDATE audit_log SET id = 9 WHERE id = 1500002;
UPDATE audit_log SET id = 1500002 WHERE id = -1;
-- modified: an unsealed row (no block)
UPDATE audit_log SET user_agent = 'edited' WHERE id = (SELECT max(id) FROM audit_log);
-- block_modified (block 2) and broken_link (block 3)
UPDATE audit_block SET block_hash = sha256('forged') WHERE id = 2;
SQL
dump tampered
cp "$WORK/tampered.audit_log" "$WORK/tampered-5000.audit_log"
cp "$WORK/tampered.audit_block" "$WORK/tampered-5000.audit_block"
agree "tampered" tampered 1 ""
for status in modified deleted forged moved block_modified broken_link unsealed; do
    check_cmd "tampered: the verifier reports $status" has "^$status"$'\t' "$WORK/tampered.out"
done
check_cmd "tampered: ids swapped within block 1 are moved" \
    has_lines "$WORK/tampered.out" $'moved\t7\t1' $'moved\t8\t1'
# Ids 1.5 million apart are still one pass: passes hold a million rows, not ids.
check_cmd "tampered: ids swapped between block 1 and block 4 are moved (one pass)" \
    has_lines "$WORK/tampered.out" $'moved\t9\t1' $'moved\t1500002\t4'
# In passes of 5000 rows, verify_audit looks for a carried checksum among the
# leaves of the same pass only, and both verifiers cut the passes alike.
SQL_PASS_ROWS=5000 agree "tampered, passes of 5000 rows" tampered-5000 1 "" --pass-rows 5000
check_cmd "tampered, passes of 5000 rows: ids swapped across passes are modified" \
    has_lines "$WORK/tampered-5000.out" $'modified\t9\t1' $'modified\t1500002\t4'

echo "== tampered blocks: a block cut short, a block deleted, a seal time edited"
q >/dev/null <<'SQL'
SET session_replication_role = replica;
UPDATE audit_block SET row_ids = row_ids[1:row_count::int - 1], row_checksums = substr(row_checksums, 1, 32 * (row_count::int - 1))
WHERE id = 1;
DELETE FROM audit_block WHERE id = 3;
UPDATE audit_block SET sealed_at = sealed_at + interval '1 microsecond' WHERE id = 4;
SQL
dump blocks
agree "blocks tampered" blocks 1 "'$digest'" --digest "$digest"
check_cmd "blocks tampered: the verifier reports the missing block 3 (at block 4)" has_lines "$WORK/blocks.out" $'broken_link\t\t4'
check_cmd "blocks tampered: rows of the deleted block and the row cut from block 1 are forged" \
    has_lines "$WORK/blocks.out" $'forged\t10022\t' $'forged\t10121\t' $'forged\t21\t' $'block_modified\t\t1'
check_cmd "blocks tampered: the edited seal time is caught (block 4)" has_lines "$WORK/blocks.out" $'block_modified\t\t4'

# ---------------------------------------------------------------------------
echo "== unreadable input: exit status 2"
bad() { # name, verifier arguments...: must exit 2 with a message
    local rc=0
    "${VERIFY[@]}" "$@" >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
    if [ "$rc" != 2 ] || [ ! -s "$WORK/bad.err" ]; then
        echo "exit status $rc"
        cat "$WORK/bad.err"
        return 1
    fi
}
sed -n 4p "$WORK/intact.audit_log" >"$WORK/line4"
{ sed -n 1,3p "$WORK/intact.audit_log"; head -c 100 "$WORK/line4"; } >"$WORK/cut.audit_log"
check_cmd "a dump cut in the middle of a line" bad "$WORK/cut.audit_log" "$WORK/intact.audit_block"
check_cmd "the two files swapped" bad "$WORK/intact.audit_block" "$WORK/intact.audit_log"
check_cmd "a file that does not exist" bad "$WORK/nothing" "$WORK/intact.audit_block"
check_cmd "a digest without block_id" bad "$WORK/intact.audit_log" "$WORK/intact.audit_block" --digest '{"block_hash": "00"}'
check_cmd "a digest that is not JSON" bad "$WORK/intact.audit_log" "$WORK/intact.audit_block" --digest '{block_id: 1'
check_cmd "no arguments" bad

finish verifier
