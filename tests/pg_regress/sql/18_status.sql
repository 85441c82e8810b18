-- audit_status: one row to alert on. (This cluster runs without lead_audit
-- preloaded: no background sealer, no failed-attempts queue; the suites
-- with a preloaded server check those columns.)
\i sql/prelude.psql
SELECT unsealed_rows, oldest_unsealed_age IS NULL AS no_age, last_sealed_at, sealer_running, blocks,
       last_digest, attempts_queued, attempts_dropped, attempts_dropped_since_start, audited_tables
FROM audit_status;
CREATE TABLE leads (id int PRIMARY KEY, name text);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
INSERT INTO leads SELECT g, 'n' || g FROM generate_series(1, 5) g;
-- Five rows and the DDL row of audit_enable wait for the sealer.
SELECT unsealed_rows, oldest_unsealed_age >= interval '0' AS has_age, blocks, audited_tables FROM audit_status;
SELECT count(*) > 0 AS sealed FROM audit_seal();
SELECT unsealed_rows, oldest_unsealed_age IS NULL AS no_age, last_sealed_at IS NOT NULL AS sealed_at, blocks,
       last_digest = audit_digest() AS digest_is_the_newest
FROM audit_status;
UPDATE leads SET name = 'x' WHERE id = 1;
SELECT unsealed_rows FROM audit_status;
-- Not for everyone: the view is the owner's to grant (to a monitoring role).
DROP ROLE IF EXISTS nosy;
CREATE ROLE nosy LOGIN;
\c - nosy
SELECT try('SELECT * FROM audit_status');
