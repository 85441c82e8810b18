-- The ledger: audit_seal() seals rows into hash-chained blocks, audit_digest()
-- hands out the chain head, verify_audit() finds every kind of tampering.
\i sql/prelude.psql
CREATE TABLE ledger_leads (id int PRIMARY KEY, email text, status text DEFAULT 'new');
SELECT audit_enable('ledger_leads');
INSERT INTO ledger_leads (id, email) SELECT g, 'lead' || g || '@example.com' FROM generate_series(1, 12) g;
UPDATE ledger_leads SET status = 'contacted' WHERE id <= 4;

-- Everything written so far belongs to finished transactions: one seal takes it all.
SELECT count(*) > 0 AS sealed_blocks, sum(row_count) = (SELECT count(*) FROM audit_log) AS all_rows
FROM audit_seal();
SELECT count(*) AS nothing_more FROM audit_seal();
SELECT status, detail ~ ' 0 not sealed yet' AS all_sealed FROM verify_audit();

-- The digest names the newest block; keep it somewhere else.
SELECT audit_digest() AS digest \gset
SELECT (:'digest'::jsonb ->> 'block_id')::bigint = id AS newest_block,
       :'digest'::jsonb ->> 'block_hash' = encode(block_hash, 'hex') AS same_hash
FROM audit_block WHERE id = (SELECT max(id) FROM audit_block);
SELECT status FROM verify_audit(:'digest');

-- New rows are unsealed until the next seal (counted, not a problem).
INSERT INTO ledger_leads VALUES (13, 'late@example.com');
SELECT status, detail ~ ' 1 not sealed yet' AS one_unsealed FROM verify_audit();
SELECT row_count FROM audit_seal();

-- A range of audit ids can be verified on its own.
SELECT status, detail ~ '^5 audit rows verified' AS five_rows FROM verify_audit(from_id => 3, to_id => 7);

-- A sealing transaction does not wait for writers, and rows of a transaction
-- still running are left for a later block (checked with two sessions in
-- tests/concurrency; here, the same transaction: its own rows stay unsealed).
BEGIN;
INSERT INTO ledger_leads VALUES (14, 'pending@example.com');
SELECT count(*) AS sealed_now FROM audit_seal();
COMMIT;
SELECT row_count FROM audit_seal();

-- Tampering, as a superuser who bypasses the append-only guard.
SELECT max(id) AS last_row FROM audit_log \gset
CREATE TEMP TABLE ids AS SELECT min(id) + 1 AS changed, min(id) + 2 AS removed,
    min(id) + 3 AS swap_a, min(id) + 4 AS swap_b FROM audit_log WHERE table_name = 'public.ledger_leads';
SET session_replication_role = replica;
-- 1. change a value
UPDATE audit_log SET new_values = jsonb_set(new_values, '{email}', '"mallory@example.com"')
WHERE id = (SELECT changed FROM ids);
-- 2. delete a row
DELETE FROM audit_log WHERE id = (SELECT removed FROM ids);
-- 3. forge a row with a correct checksum (the form is public) in the sealed range
\set ECHO none
\i ../vectors/row_forms.sql
\set ECHO all
INSERT INTO audit_log
SELECT :last_row + 100, tx_id, logged_at, table_oid, table_name, 'DELETE', NULL, record_pk, new_values, NULL, NULL,
       'forger', client_ip, user_agent, request_id, context, db_user, application_name, '\x00'
FROM audit_log WHERE id = :last_row;
UPDATE audit_log a SET checksum = sha256(pg_temp.row_form(a))
WHERE id = :last_row + 100;
-- 4. swap two rows' ids
UPDATE audit_log SET id = -1 WHERE id = (SELECT swap_a FROM ids);
UPDATE audit_log SET id = (SELECT swap_a FROM ids) WHERE id = (SELECT swap_b FROM ids);
UPDATE audit_log SET id = (SELECT swap_b FROM ids) WHERE id = -1;
RESET session_replication_role;

SELECT v.status,
       CASE v.audit_id WHEN i.changed THEN 'changed' WHEN i.removed THEN 'removed'
                       WHEN i.swap_a THEN 'swap_a' WHEN i.swap_b THEN 'swap_b'
                       WHEN :last_row + 100 THEN 'forged' END AS which_row,
       v.detail
FROM verify_audit() v, ids i ORDER BY v.audit_id;

-- 5. delete the newest block and re-seal: only the kept digest can tell.
CREATE TEMP TABLE digest AS SELECT audit_digest() AS d;
SET session_replication_role = replica;
DELETE FROM audit_block WHERE id = (SELECT max(id) FROM audit_block);
RESET session_replication_role;
SELECT count(*) AS resealed FROM audit_seal();
SELECT status, detail FROM verify_audit((SELECT d FROM digest)) WHERE status IN ('digest_mismatch', 'broken_link', 'block_modified');

-- 6. edit a block's hash: the block and the link after it are reported.
SET session_replication_role = replica;
UPDATE audit_block SET block_hash = sha256('forged') WHERE id = 1;
RESET session_replication_role;
SELECT status, block_id, detail FROM verify_audit() WHERE status IN ('broken_link', 'block_modified') ORDER BY block_id, status;

-- A digest must name a block and its hash. Whatever jsonb is passed, the
-- answer is 22023 or a verification: a number beyond a double, nesting
-- deeper than a JSON library goes, a fraction, a bigint overflow, no object.
SELECT status FROM verify_audit('{"block": 1}');
SELECT try($$ SELECT * FROM verify_audit('{"block_id": 1e400, "block_hash": "00"}') $$);
SELECT try($$ SELECT * FROM verify_audit('{"block_id": 2.5, "block_hash": "00"}') $$);
SELECT try($$ SELECT * FROM verify_audit('{"block_id": 9223372036854775808, "block_hash": "00"}') $$);
SELECT try($$ SELECT * FROM verify_audit('{"block_id": 1, "block_hash": 7}') $$);
SELECT try($$ SELECT * FROM verify_audit('null') $$);
SELECT try($$ SELECT * FROM verify_audit('[1, 2]') $$);
SELECT try(format($$ SELECT * FROM verify_audit(%L) $$,
                  '{"block_id": 1, "block_hash": "00", "deep": ' || repeat('[', 200) || repeat(']', 200) || '}'));
-- A number jsonb prints without a fraction is an integer (1e0 is 1): the
-- digest is read (and its made-up hash does not match).
SELECT bool_or(status = 'digest_mismatch') AS digest_read FROM verify_audit('{"block_id": 1e0, "block_hash": "00"}');
-- Blocks are append-only too.
SELECT try($$ DELETE FROM audit_block $$);

-- A row forged with an id of 4e18: verify_audit's time follows the rows
-- present (passes are cut by rows, not by the span of ids), so this is one
-- more row to check and a finding, not 4e12 passes.
SET session_replication_role = replica;
INSERT INTO audit_log
SELECT 4000000000000000000, tx_id, logged_at, table_oid, table_name, action, soft_delete, record_pk, old_values,
       new_values, changed_columns, actor_id, client_ip, user_agent, request_id, context, db_user, application_name,
       checksum
FROM audit_log WHERE id = (SELECT min(id) FROM audit_log);
RESET session_replication_role;
SELECT status, audit_id FROM verify_audit() WHERE audit_id = 4000000000000000000;
SET lead_audit.verify_pass_rows = 2;
SELECT status, audit_id FROM verify_audit() WHERE audit_id = 4000000000000000000;
RESET lead_audit.verify_pass_rows;
