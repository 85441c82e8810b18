-- The error corpus: every statement here fails (or succeeds) the same way on
-- a server without lead_audit, with it preloaded, and with it preloaded and
-- every table audited. run_errors.sh compares psql's verbose output, which
-- prints every field the protocol carries.
\set VERBOSITY verbose
\set SHOW_CONTEXT always
SELECT current_setting('server_version_num')::int >= 150000 AS has_merge \gset

-- INSERT: every kind of constraint
INSERT INTO crm.leads VALUES (1, 1, 'x@example.com', 5);
INSERT INTO crm.leads VALUES (3, 1, 'a@example.com', 5);
INSERT INTO crm.leads VALUES (3, 1, 'c@example.com', 500);
INSERT INTO crm.leads VALUES (3, 99, 'c@example.com', 5);
INSERT INTO crm.leads (id, email, stage) VALUES (3, 'c@example.com', NULL);
INSERT INTO crm.accounts VALUES (3, 'Initech', -1);
INSERT INTO crm.bookings VALUES (2, 102, '[3,8)');
INSERT INTO crm.events VALUES (2, '1999-01-01', 'lost');
INSERT INTO crm.quantities VALUES (2, -5);
INSERT INTO crm.lead_emails VALUES (4, 'v@example.com');
INSERT INTO crm.leads VALUES ('seven', 1);
INSERT INTO crm.leads (id, email) VALUES (3);
INSERT INTO crm.leads (id, nope) VALUES (3, 1);
INSERT INTO crm.leads SELECT id + 10, 99, NULL, 5 FROM crm.leads;
-- UPDATE and DELETE
UPDATE crm.leads SET email = 'b@example.com' WHERE id = 1;
UPDATE crm.leads SET score = -1 WHERE id = 1;
UPDATE crm.leads SET account_id = 42 WHERE id = 1;
UPDATE crm.leads SET stage = NULL WHERE id = 2;
UPDATE crm.events SET at = '2030-01-01' WHERE id = 1;
UPDATE crm.accounts SET credit = credit - 100 WHERE id = 1;
DELETE FROM crm.accounts WHERE id = 1;
UPDATE crm.leads SET score = 1 / 0;
-- COPY
COPY crm.leads FROM stdin;
5	1	e@example.com	10	new
1	1	f@example.com	10	new
\.
COPY crm.leads FROM stdin;
6	1	g@example.com	ten	new
\.
COPY crm.leads (id, account_id, email) FROM stdin;
7	99	h@example.com
\.
COPY crm.col_order (c, b, a) FROM stdin WITH (FORMAT csv, HEADER MATCH);
a,b,c
1,2,3
\.
COPY crm.leads FROM '/no/such/file';
COPY crm.nope FROM stdin;
1
\.
-- ON CONFLICT
INSERT INTO crm.leads VALUES (1, 1, 'a@example.com', 50) ON CONFLICT (id) DO UPDATE SET score = 999;
INSERT INTO crm.leads VALUES (1, 1, 'a@example.com', 50) ON CONFLICT (stage) DO NOTHING;
INSERT INTO crm.leads VALUES (1, 1, 'z@example.com', 50), (1, 1, 'y@example.com', 50) ON CONFLICT (id) DO UPDATE SET email = excluded.email;
INSERT INTO crm.leads VALUES (1, 1, 'q@example.com', 50) ON CONFLICT (id) DO UPDATE SET email = 'b@example.com';
-- MERGE (PostgreSQL 15 and later)
\if :has_merge
MERGE INTO crm.leads l USING (VALUES (1, 'b@example.com')) v(id, email) ON l.id = v.id
    WHEN MATCHED THEN UPDATE SET email = v.email;
MERGE INTO crm.leads l USING (VALUES (8, 99)) v(id, acc) ON l.id = v.id
    WHEN NOT MATCHED THEN INSERT (id, account_id, email) VALUES (v.id, v.acc, 'm@example.com');
MERGE INTO crm.leads l USING (VALUES (1), (1)) v(id) ON l.id = v.id
    WHEN MATCHED THEN UPDATE SET score = 1;
MERGE INTO crm.leads l USING (VALUES (1)) v(id) ON l.id = v.id
    WHEN MATCHED THEN DELETE;
\endif
-- Functions, procedures, DO blocks, triggers
SELECT crm.add_lead(9, 'a@example.com');
SELECT crm.sql_add_lead(9, 'a@example.com');
CALL crm.move_lead(1, 99);
CALL crm.no_such_procedure();
DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
DO $$ BEGIN INSERT INTO crm.leads VALUES (1, 1, 'w@example.com', 5); END $$;
DO $$ BEGIN EXECUTE 'SELECT 1 / 0'; END $$;
DO $$ BEGIN PERFORM crm.add_lead(10, 'b@example.com'); END $$;
DO $$
BEGIN
    BEGIN
        INSERT INTO crm.leads VALUES (1, 1, 'w@example.com', 5);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'caught and raised again' USING DETAIL = SQLERRM, ERRCODE = 'P0002';
    END;
END $$;
DO $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'every field', DETAIL = 'the detail', HINT = 'the hint',
        ERRCODE = '22P02', COLUMN = 'a_column', CONSTRAINT = 'a_constraint',
        DATATYPE = 'a_type', TABLE = 'a_table', SCHEMA = 'a_schema';
END $$;
DO $$ BEGIN RAISE WARNING 'a warning' USING DETAIL = 'its detail'; END $$;
DO $$ BEGIN RAISE NOTICE 'a notice' USING HINT = 'its hint'; END $$;
INSERT INTO crm.leads VALUES (11, 1, 'r@example.com', 5, 'refused');
UPDATE crm.leads SET stage = 'refused' WHERE id = 2;
INSERT INTO crm.accounts VALUES (4, 'Mars Inc', 1, 'mars');
UPDATE crm.accounts SET region = 'mars' WHERE id = 2;
-- Syntax, planning and permission errors
SELEC 1;
INSERT INTO crm.leads VALUES (1,;
SELECT no_column FROM crm.leads;
SELECT * FROM crm.leads WHERE email = 1;
WITH d AS (DELETE FROM crm.accounts RETURNING id) SELECT count(*) FROM d;
SET ROLE corpus_reader;
INSERT INTO crm.leads VALUES (12, 1, 's@example.com', 5);
UPDATE crm.leads SET score = 1;
DELETE FROM crm.leads;
TRUNCATE crm.leads;
COPY crm.leads FROM stdin;
13	1	t@example.com	5	new
\.
RESET ROLE;
-- Transactions: deferred constraints, aborted blocks, savepoints
BEGIN;
INSERT INTO crm.deferred VALUES (1, 77);
COMMIT;
BEGIN;
INSERT INTO crm.leads VALUES (1, 1, 'u@example.com', 5);
SELECT 1;
ROLLBACK;
BEGIN;
SAVEPOINT s;
UPDATE crm.leads SET score = 1000 WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE crm.leads SET score = 2000 WHERE id = 1;
ROLLBACK;
-- DDL
CREATE TABLE t (id int DEFAULT (id));
DROP TABLE no_such_table;
DROP TABLE crm.accounts;
ALTER TABLE crm.leads ADD CONSTRAINT positive_score CHECK (score < 0);
ALTER TABLE crm.leads ADD COLUMN id int;
ALTER TABLE crm.leads ALTER COLUMN email TYPE int;
CREATE UNIQUE INDEX ON crm.leads (account_id);
TRUNCATE crm.accounts;
CREATE TABLE crm.accounts (id int);
-- What succeeded
SELECT id, account_id, email, score, stage FROM crm.leads ORDER BY id;
SELECT id, name, credit, region FROM crm.accounts ORDER BY id;
