-- A backlog larger than a block is sealed as a chain of 10,000-row blocks,
-- read through a cursor one block at a time.
\i sql/prelude.psql
CREATE TABLE big (id int PRIMARY KEY, v text);
SELECT audit_enable('big');
INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 25000) g;
UPDATE big SET v = 'w' WHERE id <= 1000;
SELECT block_id, row_count, first_id, last_id FROM audit_seal();
SELECT count(*) AS linked FROM audit_block b JOIN audit_block p ON p.id = b.id - 1 AND b.prev_hash = p.block_hash;
SELECT status, detail ~ '^26001 audit rows verified \(26001 sealed in 3 blocks' AS summary FROM verify_audit();
SELECT count(*) AS nothing_left FROM audit_seal();
-- Sealing needs a fresh snapshot per statement.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM audit_seal();
ROLLBACK;
-- A log whose ids span more than a million is verified in passes (bounded
-- memory); problems on either side of a pass boundary are still found.
SELECT setval('audit_log_id_seq', 2500000);
UPDATE big SET v = 'x' WHERE id <= 3;
SELECT count(*) AS sealed FROM audit_seal();
SELECT status, detail ~ '^26004 audit rows verified' AS all_rows FROM verify_audit();
SET session_replication_role = replica;
UPDATE audit_log SET actor_id = 'forged' WHERE id IN (7, 2500002);
DELETE FROM audit_log WHERE id = 2500003;
RESET session_replication_role;
SELECT status, audit_id, block_id FROM verify_audit();
SELECT status, audit_id FROM verify_audit(from_id => 2000000, to_id => 3000000);

-- An auditor whose search_path puts look-alike operators first (an exact type
-- match wins over pg_catalog's operator that needs a cast) gets the same
-- findings: every query verify_audit runs names pg_catalog's operators.
CREATE SCHEMA lookalike;
CREATE FUNCTION lookalike.zero(numeric, integer) RETURNS numeric LANGUAGE sql AS 'SELECT 0::numeric';
CREATE OPERATOR lookalike.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = lookalike.zero);
CREATE FUNCTION lookalike.never(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR lookalike.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = lookalike.never);
CREATE OPERATOR lookalike.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = lookalike.never);
CREATE FUNCTION lookalike.min(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE TEMP TABLE plain AS SELECT * FROM verify_audit();
SET search_path = lookalike, public, pg_catalog;
CREATE TEMP TABLE shadowed AS SELECT * FROM verify_audit();
RESET search_path;
SELECT (SELECT count(*) FROM plain) AS findings,
       NOT EXISTS (SELECT * FROM plain EXCEPT ALL SELECT * FROM shadowed)
       AND NOT EXISTS (SELECT * FROM shadowed EXCEPT ALL SELECT * FROM plain) AS same_findings;
