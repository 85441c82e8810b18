-- stamp => true: the table's bookkeeping columns are filled by the database,
-- for every writer: *_at from the statement's time, *_by from
-- lead_audit.actor_id; created_* never change; deleted_* follow the soft
-- delete. Against an application that sets them itself, the database wins.
\i sql/prelude.psql
CREATE TABLE leads (
    id int PRIMARY KEY, name text,
    created_at timestamptz, updated_at timestamptz, created_by int, updated_by int,
    is_deleted boolean NOT NULL DEFAULT false, deleted_at timestamp, deleted_by int);
SELECT audit_enable('leads', stamp => true);
-- Times compared, not shown, to keep the output stable (RETURNING sees the
-- writing statement's own start time).
CREATE VIEW stamps AS
SELECT id, name, created_at IS NOT NULL AS has_created, updated_at > created_at AS updated_later,
       created_by, updated_by, is_deleted, deleted_at IS NOT NULL AS has_deleted_at, deleted_by
FROM leads ORDER BY id;

-- With context.
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
INSERT INTO leads (id, name) VALUES (1, 'Ada')
RETURNING id, created_at = statement_timestamp() AS created_now, updated_at = statement_timestamp() AS updated_now,
          created_by, updated_by;
COMMIT;
-- Without context: times still, *_by as the statement wrote them.
INSERT INTO leads (id, name, created_by) VALUES (2, 'Bob', 7);
SELECT id, has_created, created_by, updated_by FROM stamps WHERE id = 2;

-- An application that sets the columns itself: the database wins (with an
-- actor), and an UPDATE never changes created_*.
BEGIN;
SET LOCAL lead_audit.actor_id = '43';
UPDATE leads SET name = 'Ada L.', created_at = '2000-01-01', created_by = 666,
                 updated_at = '2000-01-01', updated_by = 666 WHERE id = 1
RETURNING id, name, created_by, updated_by, updated_at = statement_timestamp() AS updated_now,
          created_at < updated_at AS created_earlier;
COMMIT;
SELECT created_at > '2001-01-01' AS created_kept FROM leads WHERE id = 1;
-- Soft delete and restore.
BEGIN;
SET LOCAL lead_audit.actor_id = '44';
UPDATE leads SET is_deleted = true WHERE id = 2;
SELECT id, is_deleted, has_deleted_at, deleted_by, updated_by FROM stamps WHERE id = 2;
COMMIT;
UPDATE leads SET is_deleted = false WHERE id = 2;
SELECT id, is_deleted, has_deleted_at, deleted_by FROM stamps WHERE id = 2;

-- The stamped values are in the log, as the table has them.
SELECT action, new_values->'created_by' AS created_by, new_values->'updated_by' AS updated_by,
       new_values ? 'updated_at' AS updated_at_changed
FROM audit_log WHERE record_pk = '{"id": 1}' ORDER BY id;

-- An actor id the column's type does not take fails the write.
BEGIN;
SET LOCAL lead_audit.actor_id = 'not-a-number';
SELECT try($$ INSERT INTO leads (id, name) VALUES (3, 'Cy') $$);
ROLLBACK;

-- Other names, given with stamp_columns; a date column.
CREATE TABLE notes (id int PRIMARY KEY, body text, inserted_on date, author text, editor text);
SELECT audit_enable('notes', stamp => true,
                    stamp_columns => '{"created_at": "inserted_on", "created_by": "author", "updated_by": "editor"}');
BEGIN;
SET LOCAL lead_audit.actor_id = 'ada';
INSERT INTO notes (id, body) VALUES (1, 'hi');
COMMIT;
SELECT id, inserted_on = current_date AS today, author, editor FROM notes;
SELECT stamp, stamp_columns FROM audit_tables WHERE table_name = 'notes'::regclass;

-- Turned off: the trigger goes, the columns are the application's again.
SELECT audit_enable('notes', stamp => false) IS NOT NULL AS off;
INSERT INTO notes (id, body, author) VALUES (2, 'by hand', 'me');
SELECT id, inserted_on, author FROM notes WHERE id = 2;
SELECT count(*) AS stamp_triggers FROM pg_trigger WHERE tgname = 'lead_audit_stamp' AND tgrelid = 'notes'::regclass;

-- Bad options.
SELECT try($$ SELECT audit_enable('notes', stamp => true, stamp_columns => '{"created_on": "x"}') $$);
SELECT try($$ SELECT audit_enable('notes', stamp => true, stamp_columns => '{"created_by": "nope"}') $$);
SELECT try($$ SELECT audit_enable('notes', stamp => true, stamp_columns => '{"updated_at": "body"}') $$);
SELECT try($$ SELECT audit_enable('notes', stamp => true, stamp_columns => '[]') $$);
CREATE TABLE plain (id int PRIMARY KEY, v text);
SELECT try($$ SELECT audit_enable('plain', stamp => true) $$);
-- The trigger function refuses to be anything else.
CREATE TRIGGER wrong AFTER INSERT ON plain FOR EACH ROW EXECUTE FUNCTION audit_stamp_row();
SELECT try($$ INSERT INTO plain VALUES (1, 'x') $$);
