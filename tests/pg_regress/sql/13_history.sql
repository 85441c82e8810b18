-- audit_history(): the audit rows of one record, in order. Rows of sealed
-- blocks filed by audit_index_history() (the background sealer runs it) are
-- found through the record index, the others by tx_id.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, status text);
CREATE TABLE other (id int PRIMARY KEY, status text);
CREATE TABLE pairs (a int, b text, n int, PRIMARY KEY (a, b));
SELECT audit_enable('leads') IS NOT NULL AS leads, audit_enable('other') IS NOT NULL AS other,
       audit_enable('pairs') IS NOT NULL AS pairs;
INSERT INTO leads SELECT g, 'new' FROM generate_series(1, 50) g;
INSERT INTO other VALUES (7, 'elsewhere');  -- the same key, another table
INSERT INTO pairs VALUES (1, 'x', 1), (1, 'y', 1);
UPDATE leads SET status = 'contacted' WHERE id = 7;

-- Nothing sealed yet: the whole history is found by tx_id.
SELECT action, old_values, new_values FROM audit_history('leads', '{"id": 7}');
SELECT count(*) AS filed FROM audit_record_index;

-- Sealed, not filed yet: still found, by tx_id.
SELECT count(*) > 0 AS sealed FROM audit_seal();
SELECT count(*) AS rows_of_7_sealed FROM audit_history('leads', '{"id": 7}');
-- Filed: every row once (a table's own events under the JSON null), and
-- every block marked.
SELECT audit_index_history() > 0 AS filed, audit_index_history() AS nothing_left;
SELECT (SELECT count(*) FROM audit_record_filed) = (SELECT count(*) FROM audit_block) AS every_block_filed;
SELECT (SELECT count(*) FROM audit_record_index)
     = (SELECT count(*) FROM audit_log) AS every_row_filed,
       (SELECT count(DISTINCT id) FROM audit_record_index)
     = (SELECT count(*) FROM audit_record_index) AS once;

-- Changes after the seal: the sealed rows, then the newer ones, in order,
-- through a delete and a re-insert of the same key.
UPDATE leads SET status = 'qualified' WHERE id = 7;
DELETE FROM leads WHERE id = 7;
INSERT INTO leads VALUES (7, 'again');
SELECT action, old_values, new_values FROM audit_history('leads', '{"id": 7}');
SELECT count(*) > 0 AS sealed_again FROM audit_seal();  -- sealed, not filed
UPDATE leads SET status = 'won' WHERE id = 7;
-- The same rows, in the same order, as a scan of the whole log finds.
SELECT (SELECT array_agg(id) FROM audit_history('leads', '{"id": 7}'))
     = (SELECT array_agg(id ORDER BY id) FROM audit_log
        WHERE table_oid = 'leads'::regclass AND record_pk = '{"id": 7}') AS same_as_a_scan;
SELECT count(*) AS rows_of_7 FROM audit_history('leads', '{"id": 7}');
SELECT table_name, new_values FROM audit_history('other', '{"id": 7}');
SELECT count(*) AS no_such_record FROM audit_history('leads', '{"id": 999}');
SELECT action, new_values FROM audit_history('pairs', '{"a": 1, "b": "y"}');

-- An entry filed under this record that points at another record's row (a
-- hash collision, or a superuser's insert) adds nothing: the rows themselves
-- are checked.
INSERT INTO audit_record_index
SELECT jsonb_hash_extended('{"id": 7}', 'leads'::regclass::oid::bigint), id
FROM audit_log WHERE table_oid = 'other'::regclass OR record_pk = '{"id": 8}';
SELECT count(*) AS rows_of_7_still FROM audit_history('leads', '{"id": 7}');

-- Once filed, the same history, now through the index.
SELECT audit_index_history(1) > 0 AS filed_one_block;
SELECT (SELECT array_agg(id) FROM audit_history('leads', '{"id": 7}'))
     = (SELECT array_agg(id ORDER BY id) FROM audit_log
        WHERE table_oid = 'leads'::regclass AND record_pk = '{"id": 7}') AS same_after_filing;

-- The record index is append-only, like the log, and cannot be audited.
SELECT try('DELETE FROM audit_record_index');
SELECT try('UPDATE audit_record_index SET id = 0');
SELECT try('TRUNCATE audit_record_index');
SELECT try('DELETE FROM audit_record_filed');
SELECT try($$SELECT audit_enable('audit_record_index')$$);
SELECT try($$SELECT audit_enable('audit_record_filed')$$);
SELECT try('SELECT audit_index_history(-1)');

-- Reading it needs what reading the log needs.
CREATE ROLE history_app;
SET ROLE history_app;
SELECT try($$SELECT count(*) FROM audit_history('leads', '{"id": 7}')$$);
SELECT try('SELECT audit_index_history()');
RESET ROLE;
DROP ROLE history_app;
