-- verify_audit(): one 'ok' row when intact, one row per tampered audit row.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, email text, status text DEFAULT 'new');
SELECT audit_enable('leads');
INSERT INTO leads (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
UPDATE leads SET status = 'contacted' WHERE id = 1;
COMMIT;
DELETE FROM leads WHERE id = 2;
SELECT status, audit_id, detail ~ '^\d+ audit rows verified' AS summary FROM verify_audit();

-- A superuser who bypasses the guard trigger can edit rows; verify_audit sees it.
CREATE TEMP TABLE victims AS
SELECT min(id) FILTER (WHERE action = 'INSERT') AS value_row,
       min(id) FILTER (WHERE actor_id IS NOT NULL) AS actor_row,
       max(id) AS checksum_row
FROM audit_log;
SET session_replication_role = replica;
UPDATE audit_log SET new_values = jsonb_set(new_values, '{email}', '"mallory@example.com"')
WHERE id = (SELECT value_row FROM victims) AND new_values ? 'email';
UPDATE audit_log SET new_values = new_values || '{"status": "forged"}'
WHERE id = (SELECT value_row FROM victims) AND NOT new_values ? 'email';
UPDATE audit_log SET actor_id = 'someone-else' WHERE id = (SELECT actor_row FROM victims);
UPDATE audit_log SET checksum = sha256('forged') WHERE id = (SELECT checksum_row FROM victims);
RESET session_replication_role;

SELECT v.status, v.audit_id = ANY (ARRAY[value_row, actor_row, checksum_row]) AS expected_row, v.detail
FROM verify_audit() v, victims ORDER BY v.audit_id;
SELECT count(*) = 3 AS three_findings FROM verify_audit();
