-- DDL that changes what is captured is itself recorded in the log (action
-- 'DDL'), whoever does it; writes made with auditing off leave one marker row
-- per transaction (action 'UNAUDITED'). Both are chained like any row.
\i sql/prelude.psql
-- (Each DDL row also records the table's columns after it, by attnum, and
-- audit_enable's its options: shown apart, below.)
CREATE VIEW events AS
SELECT action, table_name, new_values - 'statement' - 'columns' - 'options' - 'previous' AS what,
       new_values->>'statement' AS statement, db_user
FROM audit_log WHERE action IN ('DDL', 'UNAUDITED') ORDER BY id;
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
-- Column changes and a rename, by a table owner who is not a superuser.
DROP ROLE IF EXISTS table_owner; -- left by an earlier run (its database is gone)
CREATE ROLE table_owner LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO table_owner;
ALTER TABLE leads OWNER TO table_owner;
\c - table_owner
ALTER TABLE leads ADD COLUMN phone text;
ALTER TABLE leads RENAME COLUMN email TO mail;
ALTER TABLE leads ALTER COLUMN phone TYPE varchar(40);
ALTER TABLE leads RENAME TO prospects;
-- Refused DDL is not recorded (it did not happen).
SELECT try('ALTER TABLE prospects DISABLE TRIGGER lead_audit_capture');
\c - postgres
-- A superuser's DDL on the triggers is recorded too.
ALTER TABLE prospects DISABLE TRIGGER lead_audit_capture;
ALTER TABLE prospects ENABLE ALWAYS TRIGGER lead_audit_capture;
DROP TRIGGER lead_audit_truncate ON prospects;
-- DDL on tables that are not audited is not.
CREATE TABLE notes (id int PRIMARY KEY);
ALTER TABLE notes ADD COLUMN body text;
SELECT * FROM events;
-- The columns after each command: added, renamed (same attnum), retyped.
SELECT new_values->>'statement' AS statement,
       (SELECT string_agg(c->>'attnum' || ':' || (c->>'name'), ' ') FROM jsonb_array_elements(new_values->'columns') c) AS columns
FROM audit_log WHERE action = 'DDL' ORDER BY id;

-- audit_disable and a later DROP TABLE.
SELECT audit_disable('prospects') IS NOT NULL AS disabled;
SELECT audit_enable('prospects') IS NOT NULL AS enabled;
DROP TABLE prospects;
SELECT action, table_name, what FROM events OFFSET 8;

-- Auditing off: nothing is captured, one marker per transaction says who
-- wrote how many rows where (a savepoint rolled back does not count).
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY);
SELECT audit_enable('a') IS NOT NULL, audit_enable('b') IS NOT NULL;
BEGIN;
SET LOCAL lead_audit.enabled = off;
SET LOCAL lead_audit.actor_id = 'ops-7';
INSERT INTO a SELECT generate_series(1, 5);
UPDATE a SET id = id + 10 WHERE id <= 2;
INSERT INTO b VALUES (1);
SAVEPOINT s;
DELETE FROM b;
ROLLBACK TO s;
COMMIT;
-- (table oids vary between runs: the counts are shown without them)
CREATE VIEW markers AS
SELECT id, table_oid, table_name, new_values->'rows' AS rows,
       (SELECT jsonb_agg(t - 'table_oid') FROM jsonb_array_elements(new_values->'tables') t) AS tables,
       actor_id, db_user
FROM audit_log WHERE action = 'UNAUDITED';
SELECT table_oid = 0 AS several_tables, table_name, rows, tables, actor_id, db_user FROM markers;
SELECT count(*) AS captured FROM audit_log WHERE table_name IN ('public.a', 'public.b') AND action <> 'DDL';
-- A transaction rolled back leaves no marker; one table gives its oid.
BEGIN; SET LOCAL lead_audit.enabled = off; INSERT INTO a VALUES (100); ROLLBACK;
BEGIN; SET LOCAL lead_audit.enabled = off; TRUNCATE b; COMMIT;
-- Auditing off for the session: each statement is its own transaction,
-- which commits after the statement has ended; each leaves its marker, also
-- as the first write of a new session (nothing looked the log up before).
\c lead_audit_scenario
SET lead_audit.enabled = off;
INSERT INTO a VALUES (200);
DELETE FROM a WHERE id = 200;
RESET lead_audit.enabled;
-- A prepared transaction carries its marker to COMMIT PREPARED.
BEGIN; SET LOCAL lead_audit.enabled = off; INSERT INTO a VALUES (300); PREPARE TRANSACTION 'unaudited_2pc';
COMMIT PREPARED 'unaudited_2pc';
SELECT table_oid = 'b'::regclass AS one_table, rows, tables FROM markers ORDER BY id;

-- Every event row verifies and seals like the rest.
SELECT count(*) > 0 AS sealed FROM audit_seal();
SELECT status FROM verify_audit();
\c postgres
DROP DATABASE lead_audit_scenario WITH (FORCE);
DROP ROLE table_owner;
