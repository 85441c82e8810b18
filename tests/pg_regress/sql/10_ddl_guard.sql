-- A table owner who is not a superuser cannot switch auditing off by DDL;
-- partitions created later get their TRUNCATE trigger.
\i sql/prelude.psql
SET client_min_messages = warning;
DROP ROLE IF EXISTS table_owner; -- left by an earlier run (its database is gone)
RESET client_min_messages;
CREATE ROLE table_owner LOGIN;
GRANT CREATE ON SCHEMA public TO table_owner;
CREATE TABLE owned (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE owned_eu PARTITION OF owned FOR VALUES IN ('eu');
ALTER TABLE owned OWNER TO table_owner;
ALTER TABLE owned_eu OWNER TO table_owner;
SELECT audit_enable('owned');

\c - table_owner
SELECT try($$ DROP TRIGGER lead_audit_capture ON owned $$);
SELECT try($$ DROP TRIGGER lead_audit_truncate ON owned_eu $$);
SELECT try($$ ALTER TABLE owned DISABLE TRIGGER lead_audit_capture $$);
SELECT try($$ ALTER TABLE owned_eu DISABLE TRIGGER lead_audit_truncate $$);
SELECT try($$ ALTER TABLE owned ENABLE REPLICA TRIGGER lead_audit_capture $$);
SELECT try($$ ALTER TABLE owned DISABLE TRIGGER USER $$);
-- Renaming one of lead_audit's triggers is refused too: a renamed trigger
-- could be disabled or dropped under a name the guard did not know.
SELECT try($$ ALTER TRIGGER lead_audit_capture ON owned RENAME TO innocent $$);
SELECT try($$ ALTER TRIGGER lead_audit_truncate ON owned_eu RENAME TO innocent $$);
-- Other DDL goes through.
ALTER TABLE owned ADD COLUMN note text;
-- A partition created or attached later gets the TRUNCATE trigger.
CREATE TABLE owned_us PARTITION OF owned FOR VALUES IN ('us');
CREATE TABLE owned_ap (id int, region text, note text, PRIMARY KEY (id, region));
ALTER TABLE owned ATTACH PARTITION owned_ap FOR VALUES IN ('ap');
SELECT tgrelid::regclass AS partition, tgname FROM pg_trigger
WHERE tgname = 'lead_audit_truncate' AND tgrelid::regclass::text LIKE 'owned%' ORDER BY tgrelid::regclass::text;
INSERT INTO owned VALUES (1, 'us', 'x'), (2, 'ap', 'y');
TRUNCATE owned_us;
-- Detaching a partition takes it out of the audit; dropping the table is allowed.
ALTER TABLE owned DETACH PARTITION owned_ap;
DROP TABLE owned_ap;
DROP TABLE owned;

\c - postgres
SELECT table_name, action, record_pk FROM log WHERE table_name LIKE 'public.owned%';
-- The dropped table's settings went with it.
SELECT count(*) AS stale_settings FROM audit_table WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = relid);
-- A superuser may still do it (and verify_audit is what catches abuse).
CREATE TABLE su_table (id int PRIMARY KEY);
SELECT audit_enable('su_table') IS NOT NULL AS enabled;
ALTER TABLE su_table DISABLE TRIGGER lead_audit_capture;
ALTER TABLE su_table ENABLE TRIGGER lead_audit_capture;
ALTER TRIGGER lead_audit_capture ON su_table RENAME TO renamed_by_the_dba;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'su_table'::regclass ORDER BY tgname;
DROP TABLE su_table;
REVOKE CREATE ON SCHEMA public FROM table_owner;
DROP ROLE table_owner;
