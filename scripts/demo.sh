#!/usr/bin/env bash
# The lead_audit demo: a throwaway PostgreSQL 15 cluster (lead_audit preloaded),
# a leads table written by an application role with actor context, failed
# attempts recorded, the audit log, verify_audit(), a lead's history and its
# state before a request, per-table options (redaction, stamping), the context
# from a statement comment, a revert, the health view, and a superuser's
# tampering caught, in the database and by the independent verifier on a dump.
# Run by `make demo` after installing.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${LEAD_AUDIT_DEMO_PORT:-5491}
DIR=${LEAD_AUDIT_DEMO_DIR:-/tmp/lead_audit_demo}

scripts/pgcluster.sh destroy "$DIR"
trap 'scripts/pgcluster.sh destroy "$DIR"' EXIT
# Preloaded, so failed attempts are recorded; the background sealer paused,
# so the demo seals when it says so.
scripts/pgcluster.sh start "$DIR" "$PORT" -c shared_preload_libraries=lead_audit -c lead_audit.seal_interval=0
echo "==> throwaway cluster started on port $PORT ($DIR)"

# -e echoes each statement before its result, so the output reads as a session.
psql() { command psql -X -q -e -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" "$@"; }

psql -U postgres -d postgres <<'SQL'
\echo '==> 1. Install the extension and audit a leads table (as the DBA)'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (
    id bigserial PRIMARY KEY, email text NOT NULL, full_name text, company text, phone text,
    status text NOT NULL DEFAULT 'new', score int, source text, owner_id bigint, tags text[],
    metadata jsonb, revenue numeric(12,2), is_deleted bool NOT NULL DEFAULT false,
    deleted_at timestamptz, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now());
SELECT audit_enable('leads');
CREATE ROLE crm_app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON leads TO crm_app;
GRANT USAGE ON SEQUENCE leads_id_seq TO crm_app;
SQL

psql -U crm_app -d postgres <<'SQL'
\echo '==> 2. The application writes leads; each transaction says who and from where'
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
SET LOCAL lead_audit.client_ip = '203.0.113.7';
SET LOCAL lead_audit.user_agent = 'Mozilla/5.0 (Macintosh)';
SET LOCAL lead_audit.request_id = 'req-9f2c';
INSERT INTO leads (email, full_name, company, score, tags, metadata, revenue)
VALUES ('ada@example.com', 'Ada Lovelace', 'Analytical Engines', 40, '{enterprise}', '{"utm": "ads"}', 12000),
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
SET LOCAL lead_audit.client_ip = 'not-an-address';
UPDATE leads SET score = 0;
ROLLBACK;
\echo '==> writes that fail are attempts, recorded with who tried and the error'
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
UPDATE leads SET score = 90 WHERE id = 1;
UPDATE leads SET status = NULL WHERE id = 1;          -- fails: both updates are attempts
COMMIT;
TRUNCATE leads;                                       -- no privilege: an attempt too
\echo '==> and the application role cannot edit the log or switch auditing off'
UPDATE audit_log SET actor_id = 'nobody';
SET lead_audit.enabled = off;
\set ON_ERROR_STOP 1
SQL

psql -U postgres -d postgres <<'SQL'
\echo '==> 3. The audit log (failed attempts are written just after their abort)'
DO $$ BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN (SELECT count(*) FROM audit_log WHERE outcome = 'failed') >= 4;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT id, outcome, action, soft_delete, record_pk, changed_columns, old_values, new_values,
       actor_id, client_ip, request_id, context, db_user
FROM audit_log WHERE outcome = 'committed' ORDER BY id;
\echo '==> the failed attempts'
SELECT id, action, db_user, actor_id, error->>'sqlstate' AS sqlstate, error->>'message' AS message,
       error->>'statement' AS statement
FROM audit_log WHERE outcome = 'failed' ORDER BY id;
\echo '==> the full INSERT record of lead 1'
\x on
SELECT * FROM audit_log WHERE action = 'INSERT' ORDER BY id LIMIT 1;
\x off

\echo '==> 4. Seal the rows into hash-chained blocks, keep the digest outside the database'
SELECT * FROM audit_seal();
SELECT audit_index_history() AS rows_filed_for_history;   -- the background sealer does this too
SELECT audit_digest() AS digest \gset
\echo :digest
\echo '==> verify_audit(digest): every checksum, block and link recomputed'
SELECT * FROM verify_audit(:'digest');
\echo '==> the history of lead 1, in order of its changes (filed rows through the record index)'
SELECT id, outcome, action, soft_delete, changed_columns, new_values, actor_id
FROM audit_history('leads', '{"id": 1}');

\echo '==> lead 1 as it was before request req-a11b, and as it is now'
SELECT min(logged_at) - interval '1 microsecond' AS before_a11b FROM audit_log WHERE request_id = 'req-a11b' \gset
SELECT audit_row_as_of('leads', '{"id": 1}', :'before_a11b') AS before_req_a11b;
SELECT audit_row_as_of('leads', '{"id": 1}', now()) AS now;

\echo '==> 5. Per-table options: redact phone numbers and emails, let the database stamp updated_at'
SELECT audit_enable('leads', redact => array['email', 'phone'], stamp => true);
SELECT table_name, redact, stamp FROM audit_tables;
SQL
# The digest kept at step 4, for the end.
DIGEST=$(command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "SELECT audit_digest()")

psql -U crm_app -d postgres <<'SQL'
\echo '==> the application in autocommit mode: its context in a statement comment'
SET lead_audit.comment_context = on;
/* lead_audit {"actor_id": "42", "request_id": "req-c0de"} */ UPDATE leads SET phone = '+44 20 7946 0000' WHERE id = 1;
SELECT id, phone, updated_at = created_at AS updated_at_untouched FROM leads WHERE id = 1;
SQL

psql -U postgres -d postgres -v digest="$DIGEST" <<'SQL'
\echo '==> the log has the phone number only as a keyed hash'
SELECT id, action, changed_columns, new_values, actor_id, request_id
FROM audit_log WHERE request_id = 'req-c0de';

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
SELECT id, action, record_pk, old_values, new_values, actor_id, context
FROM audit_log WHERE context ? 'reverts' ORDER BY id;
\echo '==> an older request is refused: later changes touched its leads (force => true would go over them)'
\set ON_ERROR_STOP 0
SELECT audit_revert(request_id => 'req-a11b');
\set ON_ERROR_STOP 1

\echo '==> 7. The health view, to alert on'
SELECT * FROM audit_seal();
\x on
SELECT * FROM audit_status;
\x off

\echo '==> 8. A superuser bypasses the append-only guard and rewrites history...'
SET session_replication_role = replica;
UPDATE audit_log SET actor_id = '1' WHERE id = 4;      -- blame someone else
DELETE FROM audit_log WHERE id = 8;                    -- hide a delete
RESET session_replication_role;
\echo '==> ...and verify_audit(), with the digest kept at step 4, catches both'
SELECT * FROM verify_audit(:'digest');
SQL

echo "==> 9. The auditor's own check, outside the database: the Python package's verifier"
echo "    (lead-audit-verify once installed; here run from the source, standard library only)"
echo "    reads a COPY dump and the digest kept at step 4, and finds the same"
DUMP=$(mktemp -d /tmp/lead_audit_demo_dump.XXXXXX)
trap 'rm -rf "$DUMP"; scripts/pgcluster.sh destroy "$DIR"' EXIT
for table in audit_log audit_block; do
    PGDATESTYLE=ISO command psql -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
        -c "COPY $table TO STDOUT" >"$DUMP/$table.copy"
done
echo "$ lead-audit-verify audit_log.copy audit_block.copy --digest '$DIGEST'"
status=0
PYTHONPATH=clients/python/src python3 -m lead_audit.verify "$DUMP/audit_log.copy" "$DUMP/audit_block.copy" \
    --digest "$DIGEST" || status=$?
echo "(exit status $status: 0 intact, 1 problems found, 2 unusable input)"
[ "$status" = 1 ] || { echo "demo: the verifier should have found the tampering" >&2; exit 1; }
echo "==> demo finished; stopping the cluster"
