-- History and time travel: audit_history across update, soft delete,
-- restore, delete and re-insert of a key, and primary-key changes;
-- audit_row_as_of at several times and across ADD, DROP and RENAME COLUMN;
-- audit_table_as_of; audit_changes with its filters.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, name text, status text, is_deleted boolean NOT NULL DEFAULT false);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
-- Each point in time is taken between statements (a row's logged_at is the
-- start of the statement that made the change).
SELECT clock_timestamp() AS t_before \gset
SET lead_audit.actor_id = 'alice';
SET lead_audit.request_id = 'r-1';
INSERT INTO leads (id, name, status) VALUES (1, 'Ada', 'new'), (2, 'Bob', 'new');
SELECT clock_timestamp() AS t_inserted \gset
SET lead_audit.request_id = 'r-2';
UPDATE leads SET status = 'won' WHERE id = 1;
UPDATE leads SET is_deleted = true WHERE id = 1;
SELECT clock_timestamp() AS t_soft_deleted \gset
UPDATE leads SET is_deleted = false WHERE id = 1;
SET lead_audit.actor_id = 'bob';
SET lead_audit.request_id = 'r-3';
DELETE FROM leads WHERE id = 1;
SELECT clock_timestamp() AS t_deleted \gset
INSERT INTO leads (id, name, status) VALUES (1, 'Ada again', 'new');

-- The history of key 1: every row, in order, also across delete and re-insert.
SELECT action, soft_delete, old_values, new_values FROM audit_history('leads', '{"id": 1}');
SELECT audit_row_as_of('leads', '{"id": 1}', :'t_before') AS before_insert,
       audit_row_as_of('leads', '{"id": 1}', :'t_inserted') AS inserted;
SELECT audit_row_as_of('leads', '{"id": 1}', :'t_soft_deleted') AS soft_deleted,
       audit_row_as_of('leads', '{"id": 1}', :'t_deleted') AS deleted,
       audit_row_as_of('leads', '{"id": 1}', now()) AS again;

-- A primary-key change: the history follows the record under both keys.
SET lead_audit.request_id = 'r-4';
UPDATE leads SET id = 20 WHERE id = 2;
SELECT clock_timestamp() AS t_renumbered \gset
UPDATE leads SET status = 'lost' WHERE id = 20;
SELECT action, record_pk, old_values, new_values FROM audit_history('leads', '{"id": 20}');
SELECT count(*) AS rows_from_old_key FROM audit_history('leads', '{"id": 2}');
SELECT audit_row_as_of('leads', '{"id": 2}', :'t_inserted') AS as_2_then,
       audit_row_as_of('leads', '{"id": 20}', :'t_inserted') AS as_20_then,
       audit_row_as_of('leads', '{"id": 2}', now()) AS as_2_now,
       audit_row_as_of('leads', '{"id": 20}', now()) AS as_20_now;
-- A key that comes back: 20 moves to 2 again; key 2's history is whole.
UPDATE leads SET id = 2 WHERE id = 20;
SELECT action, record_pk FROM audit_history('leads', '{"id": 2}');
SELECT audit_row_as_of('leads', '{"id": 2}', now()) AS as_2_now;

-- Columns renamed, added (with a default), dropped: a record as of each time
-- has the table's columns of that time.
SELECT clock_timestamp() AS t_old_columns \gset
ALTER TABLE leads RENAME COLUMN name TO full_name;
ALTER TABLE leads ADD COLUMN source text DEFAULT 'web';
ALTER TABLE leads DROP COLUMN status;
SELECT clock_timestamp() AS t_new_columns \gset
UPDATE leads SET full_name = 'Ada B.' WHERE id = 1;
SELECT audit_row_as_of('leads', '{"id": 1}', :'t_old_columns') AS old_columns,
       audit_row_as_of('leads', '{"id": 1}', :'t_new_columns') AS new_columns,
       audit_row_as_of('leads', '{"id": 1}', now()) AS now;
-- As of now, every record is what the table holds.
SELECT (SELECT jsonb_agg(s ORDER BY s->>'id') FROM audit_table_as_of('leads', now()) s)
     = (SELECT jsonb_agg(to_jsonb(l) ORDER BY l.id::text) FROM leads l) AS table_as_of_now_is_the_table;

-- The whole table at earlier times.
SELECT s FROM audit_table_as_of('leads', :'t_inserted') s ORDER BY s->>'id';
SELECT s FROM audit_table_as_of('leads', :'t_deleted') s ORDER BY s->>'id';
SELECT count(*) AS none_before FROM audit_table_as_of('leads', :'t_before');

-- TRUNCATE without rows recorded ends every record.
SELECT audit_enable('leads', truncate_rows => false) IS NOT NULL AS changed;
SELECT clock_timestamp() AS t_before_truncate \gset
TRUNCATE leads;
SELECT count(*) AS before_truncate FROM audit_table_as_of('leads', :'t_before_truncate');
SELECT count(*) AS after_truncate FROM audit_table_as_of('leads', now());

-- audit_changes: a time range, one actor, one request.
SELECT action, record_pk, actor_id, request_id FROM audit_changes('leads', :'t_before', :'t_soft_deleted');
SELECT count(*) AS bobs FROM audit_changes('leads', :'t_before', actor_id => 'bob');
SELECT action, record_pk FROM audit_changes(NULL, :'t_before', request_id => 'r-3');

-- Bad arguments.
SELECT try($$ SELECT audit_history('leads', NULL) $$);
SELECT try($$ SELECT audit_row_as_of('leads', '{"id": 1}', NULL) $$);
SELECT try($$ SELECT audit_table_as_of(NULL, now()) $$);
SELECT count(*) AS no_such_record FROM audit_history('leads', '{"id": 999}');
