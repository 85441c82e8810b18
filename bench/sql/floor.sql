-- The floor: the audit rows lead_audit writes, already built (floor_rows_*,
-- made once per run by run.sh), appended with INSERT ... SELECT into a table
-- shaped, constrained and indexed as audit_log (taken from the extension, so
-- it follows sql/schema.sql; no default, so no tie to its sequence). No
-- trigger, no JSON, no checksum: what writing the rows costs by itself.
DROP TABLE IF EXISTS floor_log;
DROP EXTENSION IF EXISTS lead_audit CASCADE;
CREATE EXTENSION lead_audit;
CREATE TABLE floor_log (LIKE audit_log INCLUDING CONSTRAINTS INCLUDING INDEXES);
DROP EXTENSION lead_audit;
