#!/usr/bin/env bash
# The lead_audit demo: a throwaway PostgreSQL 15 cluster (lead_audit preloaded),
# a leads table written by an application role with actor context, failed
# attempts recorded, the audit log, verify_audit(), a lead's history and its
# state before a request, per-table options (redaction, stamping), the context
# from a statement comment, a revert, a partitioned table and tables without a
# primary key, the health view, a superuser's tampering caught, in the
# database and by the independent verifier on a dump; then the web viewer,
# run as a read-only role, verifies and shows a lead's page; last, proofs for
# an outsider: a witness cosigns the log's signed checkpoint, and an auditor
# checks one row's receipt offline with nothing but the public keys.
# Run by `make demo` after installing; tests/run_demo.sh checks its output.
#
# Written to be read in a terminal of 100 columns: every line it prints fits.
# Audit records are shown one per block (psql's expanded display, \x), their
# JSON pretty-printed (jsonb_pretty) or picked key by key (->>); short results
# stay tables. The only text wrapped after the fact is prose the demo does not
# lay out itself: the server's messages (ERROR, DETAIL, HINT), audit_enable's
# message (printed bare, as a message) and the verifier's report, word-wrapped
# at 100 columns.
#
# Environment: LEAD_AUDIT_DEMO_PORT (5491), LEAD_AUDIT_DEMO_DIR
# (/tmp/lead_audit_demo), LEAD_AUDIT_DEMO_KEEP=1 to stop the cluster at the end
# but keep its directory (and server.log) instead of removing it. The Python
# package (with its proofs extra) goes into a virtual environment beside the
# cluster; the witness is the one the tests run (tests/crosscheck, in Go).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${LEAD_AUDIT_DEMO_PORT:-5491}
DIR=${LEAD_AUDIT_DEMO_DIR:-/tmp/lead_audit_demo}
WIDTH=100
DUMP=

KEYS=$DIR-keys
WITNESS_PORT=$((PORT + 100))
cleanup() {
    [ -z "$DUMP" ] || rm -rf "$DUMP"
    [ ! -f "$KEYS/witness.pid" ] || kill "$(cat "$KEYS/witness.pid")" 2>/dev/null || true
    [ ! -f "$KEYS/viewer.pid" ] || kill "$(cat "$KEYS/viewer.pid")" 2>/dev/null || true
    rm -rf "$KEYS" "$DIR-venv"
    if [ "${LEAD_AUDIT_DEMO_KEEP:-0}" = 1 ]; then
        scripts/pgcluster.sh stop "$DIR"
    else
        scripts/pgcluster.sh destroy "$DIR"
    fi
}

scripts/pgcluster.sh destroy "$DIR"
trap cleanup EXIT
# Preloaded, so failed attempts are recorded; the background sealer paused,
# so the demo seals when it says so.
scripts/pgcluster.sh start "$DIR" "$PORT" -c shared_preload_libraries=lead_audit -c lead_audit.seal_interval=0
echo "==> throwaway cluster started on port $PORT ($DIR)"

# The log's signing key (every seal signs a checkpoint with it), a witness's
# key, the Python package and the witness.
rm -rf "$KEYS" "$DIR-venv"
mkdir -p "$KEYS"
python3 -m venv "$DIR-venv"
# Installed from a copy, so that the checkout gets no build/ or egg-info.
cp -r clients/python "$KEYS/lead-audit"
"$DIR-venv/bin/pip" install --quiet --disable-pip-version-check "$KEYS/lead-audit[proofs,verify,web]"
"$DIR-venv/bin/lead-audit" keygen demo.example/lead_audit --out "$KEYS/log.key" >"$KEYS/log.vkey"
"$DIR-venv/bin/lead-audit" keygen witness.example/w1 --witness --out "$KEYS/w1.key" >"$KEYS/w1.vkey"
chown postgres "$KEYS/log.key" 2>/dev/null || true
(cd tests/crosscheck && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$KEYS/gocache" \
    go build -o "$KEYS/witness" .)
command psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    -c "ALTER SYSTEM SET lead_audit.signing_key_file = '$KEYS/log.key'" -c "SELECT pg_reload_conf()" >/dev/null
echo "==> the log signs a checkpoint after every seal (lead_audit.signing_key_file)"

# Word-wraps lines wider than $WIDTH at a space, the rest of the line indented:
# `wrap messages` wraps only messages (the server's ERROR:, DETAIL:, HINT: ...,
# continued under their text; the extension's own `lead_audit: ...` text,
# continued 4 columns in), `wrap all` every line (continued 4 columns in).
# Anything else passes as it is, so a result too wide still shows as such.
wrap() {
    awk -v width="$WIDTH" -v all="$([ "$1" = all ] && echo 1 || echo 0)" '
        function emit(line, indent,    cut, i) {
            while (length(line) > width) {
                cut = 0
                for (i = width + 1; i > length(indent) + 1; i--)
                    if (substr(line, i, 1) == " ") { cut = i; break }
                if (!cut) break
                print substr(line, 1, cut - 1)
                line = indent substr(line, cut + 1)
            }
            print line
        }
        length($0) <= width { print; next }
        all == 1 { emit($0, "    "); next }
        match($0, /^(ERROR|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT|LINE [0-9]+):  */) {
            emit($0, sprintf("%" RLENGTH "s", "")); next
        }
        /^lead_audit: / { emit($0, "    "); next }
        { print }'
}

# -e echoes each statement before its result, so the output reads as a session
# (psql's own \-commands, such as \x, are not echoed; a query ended with
# \g (format=unaligned tuples_only=on) prints its bare value). Its messages go
# through the same pipe as its results, so they stay in order. SHOW_CONTEXT=never
# leaves out the PL/pgSQL line numbers of errors raised inside the extension.
psql() {
    command psql -X -q -e -v ON_ERROR_STOP=1 -v SHOW_CONTEXT=never \
        -h 127.0.0.1 -p "$PORT" "$@" 2>&1 | wrap messages
}

psql -U postgres -d postgres <<'SQL'
\echo '==> 1. Install the extension and audit a leads table (as the DBA)'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (
    id bigserial PRIMARY KEY,
    email text NOT NULL, full_name text, company text, phone text,
    status text NOT NULL DEFAULT 'new', score int, source text, owner_id bigint,
    tags text[], metadata jsonb, revenue numeric(12,2),
    is_deleted bool NOT NULL DEFAULT false, deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now());
SELECT audit_enable('leads') \g (format=unaligned tuples_only=on)
CREATE ROLE crm_app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON leads TO crm_app;
GRANT USAGE ON SEQUENCE leads_id_seq TO crm_app;
SQL

psql -U crm_app -d postgres <<'SQL'
\echo
\echo '==> 2. The application writes leads; each transaction says who and from where'
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
SET LOCAL lead_audit.client_ip = '203.0.113.7';
SET LOCAL lead_audit.user_agent = 'Mozilla/5.0 (Macintosh)';
SET LOCAL lead_audit.request_id = 'req-9f2c';
INSERT INTO leads (email, full_name, company, score, tags, metadata, revenue)
VALUES ('ada@example.com', 'Ada Lovelace', 'Analytical Engines', 40,
        '{enterprise}', '{"utm": "ads"}', 12000),
       ('alan@example.com', 'Alan Turing', 'Bletchley', 10, NULL, NULL, NULL);
COMMIT;

BEGIN;
SET LOCAL lead_audit.actor_id = '7';
SET LOCAL lead_audit.request_id = 'req-a11b';
SET LOCAL lead_audit.context = '{"route": "PATCH /leads/1"}';
UPDATE leads SET status = 'qualified', score = 85 WHERE id = 1;
UPDATE leads SET status = 'qualified' WHERE id = 1;   -- no change: no audit row
UPDATE leads SET is_deleted = true WHERE id = 2;      -- a soft delete
COMMIT;

\echo '==> a bulk statement with no context at all is still recorded'
UPDATE leads SET owner_id = 99;
DELETE FROM leads WHERE is_deleted;

\echo '==> a change that cannot be audited is refused, not committed unaudited'
\set ON_ERROR_STOP 0
BEGIN;
SET LOCAL lead_audit.client_ip = 'n/a';
UPDATE leads SET score = 0;
ROLLBACK;
\echo '==> writes that fail are attempts, recorded with who tried and the error'
-- (terse: the server's DETAIL would repeat the whole failing row)
\set VERBOSITY terse
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
UPDATE leads SET score = 90 WHERE id = 1;
UPDATE leads SET status = NULL WHERE id = 1;          -- fails: both updates are attempts
COMMIT;
\set VERBOSITY default
TRUNCATE leads;                                       -- no privilege: an attempt too
\echo '==> and the application role cannot edit the log or switch auditing off'
UPDATE audit_log SET actor_id = 'nobody';
SET lead_audit.enabled = off;
\set ON_ERROR_STOP 1
SQL

psql -U postgres -d postgres <<'SQL'
\echo
\echo '==> 3. The audit log (failed attempts are written just after their abort)'
DO $$ BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN (SELECT count(*) FROM audit_log WHERE outcome = 'failed') >= 4;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
\echo '==> its first row is audit_enable itself, a DDL row (new_values also hold the options)'
\x on
SELECT id, outcome, action, table_name, new_values->>'command' AS command,
       new_values->>'key' AS record_key, new_values->>'statement' AS statement, db_user
FROM audit_log WHERE action = 'DDL' ORDER BY id;
\echo '==> the committed changes, one audit row each'
SELECT id, outcome, action, soft_delete, record_pk, changed_columns,
       jsonb_pretty(old_values) AS old_values, jsonb_pretty(new_values) AS new_values,
       actor_id, client_ip, request_id, jsonb_pretty(context) AS context, db_user
FROM audit_log WHERE outcome = 'committed' AND action <> 'DDL' ORDER BY id;
\echo '==> the failed attempts'
SELECT id, outcome, action, db_user, actor_id, error->>'sqlstate' AS sqlstate,
       error->>'message' AS message, error->>'statement' AS statement
FROM audit_log WHERE outcome = 'failed' ORDER BY id;
\echo '==> the full INSERT record of lead 1: every column of audit_log'
SELECT id, tx_id, logged_at, table_oid, table_name, action, soft_delete, record_pk,
       old_values, jsonb_pretty(new_values) AS new_values, changed_columns,
       actor_id, client_ip, user_agent, request_id, context, db_user, application_name,
       checksum, outcome, error
FROM audit_log WHERE action = 'INSERT' ORDER BY id LIMIT 1;

\echo '==> 4. Seal the rows into hash-chained blocks, keep the digest outside the database'
SELECT * FROM audit_seal();
\x off
SELECT audit_index_history() AS rows_filed_for_history;   -- the background sealer does this too
SELECT jsonb_pretty(audit_digest()) AS digest \gset
\echo :digest
\echo '==> verify_audit(digest): every checksum, block and link recomputed'
\x on
SELECT status, audit_id, block_id, replace(detail, '; ', E';\n') AS detail
FROM verify_audit(:'digest');
\echo '==> the history of lead 1, in order of its changes (filed rows through the record index)'
SELECT id, outcome, action, soft_delete, changed_columns,
       jsonb_pretty(new_values) AS new_values, actor_id
FROM audit_history('leads', '{"id": 1}');
\x off

\echo '==> lead 1 as it was before request req-a11b, and as it is now, column by column'
SELECT min(logged_at) - interval '1 microsecond' AS before_a11b
FROM audit_log WHERE request_id = 'req-a11b' \gset
SELECT key AS column, b.value AS before_req_a11b, n.value AS now
FROM jsonb_each(audit_row_as_of('leads', '{"id": 1}', :'before_a11b')) b
JOIN jsonb_each(audit_row_as_of('leads', '{"id": 1}', now())) n USING (key);

\echo '==> 5. Per-table options: redact phone numbers and emails, let the database stamp updated_at'
SELECT audit_enable('leads', redact => array['email', 'phone'], stamp => true)
\g (format=unaligned tuples_only=on)
SELECT table_name, redact, stamp, record_key FROM audit_tables;
SQL
# The digest kept at step 4, for the end.
DIGEST=$(command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    -c "SELECT jsonb_pretty(audit_digest())")

psql -U crm_app -d postgres <<'SQL'
\echo '==> the application in autocommit mode: its context in a statement comment'
SET lead_audit.comment_context = on;
/* lead_audit {"actor_id": "42", "request_id": "req-c0de"} */
UPDATE leads SET phone = '+44 20 7946 0000' WHERE id = 1;
SELECT id, phone, updated_at = created_at AS updated_at_untouched FROM leads WHERE id = 1;
SQL

psql -U postgres -d postgres -v digest="$DIGEST" <<'SQL'
\echo '==> the log has the phone number only as a keyed hash, and the stamped updated_at'
\x on
SELECT id, action, changed_columns, new_values->>'phone' AS phone,
       new_values->>'updated_at' AS updated_at, actor_id, request_id
FROM audit_log WHERE request_id = 'req-c0de';
\x off

\echo '==> 6. A mistaken request, then its undo; the undo is itself audited'
BEGIN;
SET LOCAL lead_audit.actor_id = '7';
SET LOCAL lead_audit.request_id = 'req-oops';
UPDATE leads SET status = 'lost', score = 0 WHERE id = 1;
INSERT INTO leads (email, full_name) VALUES ('junk@example.com', 'Test Test');
COMMIT;
SELECT id, status, score FROM leads ORDER BY id;
BEGIN;
SET LOCAL lead_audit.actor_id = 'admin-1';
SELECT audit_revert(request_id => 'req-oops') AS changes_undone;
COMMIT;
SELECT id, status, score FROM leads ORDER BY id;
\echo '==> the undo in the log: each row says what it reverts'
\x on
SELECT id, action, record_pk, changed_columns, jsonb_pretty(new_values) AS new_values,
       actor_id, jsonb_pretty(context) AS context
FROM audit_log WHERE context ? 'reverts' ORDER BY id;
\x off
\echo '==> an older request is refused: later changes touched its leads'
\echo '    (force => true would go over them)'
\set ON_ERROR_STOP 0
SELECT audit_revert(request_id => 'req-a11b');
\set ON_ERROR_STOP 1

\echo
\echo '==> 7. A partitioned table, and tables without a primary key'
\echo '==> audit_enable on the parent captures every partition, even one attached later'
CREATE TABLE lead_events (lead_id bigint NOT NULL, kind text NOT NULL, at date NOT NULL)
    PARTITION BY RANGE (at);
CREATE TABLE lead_events_2026 PARTITION OF lead_events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT audit_enable('lead_events') \g (format=unaligned tuples_only=on)
CREATE TABLE lead_events_2027 (LIKE lead_events);
ALTER TABLE lead_events ATTACH PARTITION lead_events_2027
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
\echo '==> no primary key: a record is named by the replica identity index, else its whole row'
CREATE TABLE lead_tags (lead_id bigint NOT NULL, tag text NOT NULL);
CREATE UNIQUE INDEX lead_tags_key ON lead_tags (lead_id, tag);
ALTER TABLE lead_tags REPLICA IDENTITY USING INDEX lead_tags_key;
SELECT audit_enable('lead_tags') \g (format=unaligned tuples_only=on)
INSERT INTO lead_events VALUES (1, 'call', '2026-12-01'), (1, 'email', '2027-01-15');
INSERT INTO lead_tags VALUES (1, 'vip');
SELECT table_name, record_key FROM audit_tables ORDER BY table_name::text;
\x on
SELECT id, action, table_name, record_pk
FROM audit_log WHERE table_name <> 'public.leads' AND action <> 'DDL' ORDER BY id;

\echo '==> 8. The health view, to alert on'
SELECT * FROM audit_seal();
\x off
SELECT jsonb_pretty(to_jsonb(s)) AS audit_status FROM audit_status s;

\echo '==> 9. A superuser bypasses the append-only guard and rewrites history...'
SET session_replication_role = replica;
UPDATE audit_log SET actor_id = '1' WHERE id = 4;      -- blame someone else
DELETE FROM audit_log WHERE id = 8;                    -- hide a delete
RESET session_replication_role;
\echo '==> ...and verify_audit(), with the digest kept at step 4, catches both'
\x on
SELECT status, audit_id, block_id, replace(detail, '; ', E';\n') AS detail
FROM verify_audit(:'digest');
SQL

echo "==> 10. The auditor's own check, outside the database: the Python package's verifier"
echo "    (lead-audit-verify once installed; here run from the source, standard library only)"
echo "    reads a COPY dump and the digest kept at step 4 (digest.json), and finds the same"
DUMP=$(mktemp -d /tmp/lead_audit_demo_dump.XXXXXX)
for table in audit_log audit_block; do
    PGDATESTYLE=ISO command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
        -c "COPY $table TO STDOUT" >"$DUMP/$table.copy"
done
printf '%s\n' "$DIGEST" >"$DUMP/digest.json"
echo "$ lead-audit-verify audit_log.copy audit_block.copy --digest digest.json"
status=0
PYTHONPATH=clients/python/src python3 -m lead_audit.verify "$DUMP/audit_log.copy" \
    "$DUMP/audit_block.copy" --digest "$DUMP/digest.json" >"$DUMP/report" 2>&1 || status=$?
wrap all <"$DUMP/report"
echo "(exit status $status: 0 intact, 1 problems found, 2 unusable input)"
[ "$status" = 1 ] || { echo "demo: the verifier should have found the tampering" >&2; exit 1; }

echo "==> 11. An auditor's window: the viewer, run by a role that may only read the log"
psql -U postgres -d postgres <<'SQL'
CREATE ROLE auditor LOGIN;
GRANT SELECT ON audit_log, audit_status TO auditor;
SQL
VIEWER_PORT=$((PORT + 200))
echo "$ lead-audit serve --dsn 'host=127.0.0.1 port=$PORT user=auditor' --port $VIEWER_PORT"
"$DIR-venv/bin/lead-audit" serve --dsn "host=127.0.0.1 port=$PORT user=auditor dbname=postgres" \
    --port "$VIEWER_PORT" 2>"$KEYS/viewer.log" &
echo $! >"$KEYS/viewer.pid"
echo "==> a verification run from the viewer, then lead 1's page as a browser gets it, read back"
"$DIR-venv/bin/python" - "http://127.0.0.1:$VIEWER_PORT/audit" <<'PY'
import html.parser, json, sys, time, urllib.parse, urllib.request
base = sys.argv[1]
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/ui").close()
        break
    except OSError:
        time.sleep(0.1)
run = urllib.request.Request(base + "/verification", method="POST", headers={"X-Lead-Audit": "verify"})
found = json.load(urllib.request.urlopen(run))["findings"]
print(f"POST /audit/verification: {len(found)} findings, e.g. row {found[0]['audit_id']} {found[0]['status']}")
url = base + "/ui/record?" + urllib.parse.urlencode({"table": "leads", "key": '{"id": 1}'})
print("GET " + url.split("/audit", 1)[1])

class Cards(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.field = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            self.cards.append({"id": a["data-audit-id"], "flagged": "flagged" in a["class"], "text": []})
        elif tag == "tr" and self.cards and a.get("class") == "changed":
            self.cards[-1]["text"].append("changed:")
    def handle_data(self, data):
        if self.cards and data.strip():
            self.cards[-1]["text"].append(data.strip())

page = Cards()
page.feed(urllib.request.urlopen(url).read().decode())
for c in page.cards:
    t = c["text"]
    who = t[t.index("who") + 1]
    changed = [t[i + 1] + " " + t[i + 2] + " → " + t[i + 3] for i, w in enumerate(t) if w == "changed:"]
    flag = "  FLAGGED by the verification" if c["flagged"] else ""
    shown = ""
    for part in changed:  # whole columns only, as many as fit
        if len(shown) + len(part) > 44:
            shown += "; …" if shown else part[:43] + "…"
            break
        shown += ("; " if shown else "") + part
    print(f"  #{c['id']:<3} {t[0]:<7} by {who:<8} {shown}{flag}".rstrip())
PY

echo "==> 12. Proofs for an outsider: the log's signed checkpoint (C2SP), a witness, a receipt"
psql -U postgres -d postgres <<'SQL'
SELECT audit_verifier_key() AS published_key;
\echo '==> the newest checkpoint: origin, tree size, root, then the log''s signature (cut here)'
SELECT regexp_replace(audit_checkpoint(), '(— \S+ .{16})\S*', '\1…', 'g') AS checkpoint \g (format=unaligned tuples_only=on)
SQL
"$KEYS/witness" witness "127.0.0.1:$WITNESS_PORT" "$KEYS/w1.state" "$KEYS/w1.key" "$KEYS/log.vkey" \
    demo.example/lead_audit/postgres >"$KEYS/witness.log" 2>&1 &
echo $! >"$KEYS/witness.pid"
for _ in $(seq 1 50); do grep -q listening "$KEYS/witness.log" && break; sleep 0.1; done
echo "==> a witness checks the checkpoint extends what it saw, and cosigns it"
echo "$ lead-audit witness --connect ... --witness http://127.0.0.1:$WITNESS_PORT \$(cat w1.vkey)"
"$DIR-venv/bin/lead-audit" witness --connect "host=127.0.0.1 port=$PORT user=postgres dbname=postgres" \
    --witness "http://127.0.0.1:$WITNESS_PORT" "$(cat "$KEYS/w1.vkey")"
echo "==> an auditor gets lead 1's INSERT as a receipt (audit_proof(2)) and checks it offline,"
echo "    with the log's and the witness's public keys only"
printf '%s\n' "$(command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    -c "SELECT audit_proof(2)")" >"$KEYS/row-2.tlog-proof"
echo "$ lead-audit-verify --receipt row-2.tlog-proof --log-key \$(cat log.vkey) \\"
echo "      --witness-key \$(cat w1.vkey)"
"$DIR-venv/bin/lead-audit-verify" --receipt "$KEYS/row-2.tlog-proof" --log-key "$KEYS/log.vkey" \
    --witness-key "$KEYS/w1.vkey" >"$KEYS/proven.json"
"$DIR-venv/bin/python" - "$KEYS/proven.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
row = p["row"]
print(f"proven: row {row['id']} is leaf {p['index']} of the tree of {p['tree_size']} rows of {p['log']},")
print(f"        cosigned by {', '.join(p['cosigned_by'])}; checksum {p['checksum'][:32]}…")
print(f"        {row['action']} of {row['table_name']} {row['record_pk']} by actor {row['actor_id']},"
      f" request {row['request_id']}")
PY
echo "==> row 4's receipt now carries the row as the superuser rewrote it: rejected"
printf '%s\n' "$(command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    -c "SELECT audit_proof(4)")" >"$KEYS/row-4.tlog-proof"
status=0
"$DIR-venv/bin/lead-audit-verify" --receipt "$KEYS/row-4.tlog-proof" --log-key "$KEYS/log.vkey" \
    --witness-key "$KEYS/w1.vkey" 2>&1 | wrap all || status=$?

echo "==> demo finished; stopping the cluster"
