-- audit_enable / audit_disable: idempotent, and clear errors for bad input.
\i sql/prelude.psql
CREATE SCHEMA "Sales Ops";
CREATE TABLE "Sales Ops"."Lead List" ("Lead Id" int PRIMARY KEY, "Name" text);
-- This cluster does not preload lead_audit: audit_enable says that failed
-- attempts will not be recorded.
SET client_min_messages = notice;
SELECT audit_enable('"Sales Ops"."Lead List"');
SET client_min_messages = warning;
SELECT audit_enable('"Sales Ops"."Lead List"');
SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales Ops"."Lead List"'::regclass ORDER BY 1;
INSERT INTO "Sales Ops"."Lead List" VALUES (1, 'x');
SELECT table_name, record_pk, new_values FROM log WHERE table_name LIKE '"Sales Ops"%';

SELECT audit_disable('"Sales Ops"."Lead List"');
SELECT audit_disable('"Sales Ops"."Lead List"');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = '"Sales Ops"."Lead List"'::regclass;
INSERT INTO "Sales Ops"."Lead List" VALUES (2, 'not audited');
SELECT count(*) AS audit_rows FROM log WHERE table_name LIKE '"Sales Ops"%';
-- The history stays after audit_disable, and auditing can start again.
SELECT audit_enable('"Sales Ops"."Lead List"');
UPDATE "Sales Ops"."Lead List" SET "Name" = 'y' WHERE "Lead Id" = 1;
SELECT action, record_pk, new_values FROM log WHERE table_name LIKE '"Sales Ops"%';

-- A table without a primary key is audited (22_no_primary_key has more).
CREATE TABLE no_pk (a int);
SELECT audit_enable('no_pk');
SELECT try($$ SELECT audit_enable('no_pk') $$);
-- Errors.
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT try($$ SELECT audit_enable('no_such_table') $$);
SELECT try($$ SELECT audit_enable(NULL) $$);
SELECT try($$ SELECT audit_enable('notes', baseline => NULL) $$);
SELECT try($$ SELECT audit_disable(NULL) $$);
CREATE VIEW lead_view AS SELECT * FROM notes;
SELECT try($$ SELECT audit_enable('lead_view') $$);
SELECT try($$ SELECT audit_enable('audit_log') $$);
SELECT try($$ SELECT audit_enable(0) $$);
-- The trigger functions refuse to run as anything else.
CREATE TABLE misuse (id int PRIMARY KEY);
CREATE TRIGGER wrong BEFORE INSERT ON misuse FOR EACH ROW EXECUTE FUNCTION audit_capture_row();
SELECT try($$ INSERT INTO misuse VALUES (1) $$);
-- Nor can they be called directly.
SELECT try($$ SELECT audit_capture_row() $$);
SELECT try($$ SELECT audit_capture_truncate() $$);
-- A table that loses its primary key after audit_enable goes on being
-- audited, its records named by their whole row.
CREATE TABLE fragile (id int CONSTRAINT fragile_pk PRIMARY KEY, v text);
SELECT audit_enable('fragile');
ALTER TABLE fragile DROP CONSTRAINT fragile_pk;
SELECT try($$ INSERT INTO fragile VALUES (1, 'x') $$);
SELECT action, record_pk FROM audit_log WHERE table_name = 'public.fragile' AND action = 'INSERT';

-- None of the extension's own tables can be audited (auditing audit_block
-- would make every seal write a row for the next seal, for ever).
SELECT try($$ SELECT audit_enable('audit_block') $$);
SELECT try($$ SELECT audit_enable('audit_table') $$);
-- The internal invalidation call is harmless for an oid that names nothing.
SELECT try($$ SELECT _audit_invalidate(0) $$);

-- A schema renamed after this session wrote to a table in it: the next rows
-- carry the new name (a schema rename sends no relcache invalidation for its
-- tables; lead_audit drops its cached names on any schema change).
CREATE SCHEMA crm;
CREATE TABLE crm.accounts (id int PRIMARY KEY, name text);
SELECT audit_enable('crm.accounts') IS NOT NULL AS enabled;
INSERT INTO crm.accounts VALUES (1, 'before');
ALTER SCHEMA crm RENAME TO sales;
INSERT INTO sales.accounts VALUES (2, 'after');
SELECT table_name, record_pk FROM audit_log WHERE table_oid = 'sales.accounts'::regclass AND action <> 'DDL' ORDER BY id;
