-- Soft deletes are UPDATEs with soft_delete = 'deleted' / 'restored'.
\i sql/prelude.psql
CREATE TABLE flagged (id int PRIMARY KEY, name text, is_deleted boolean NOT NULL DEFAULT false);
CREATE TABLE stamped (id int PRIMARY KEY, name text, deleted_at timestamptz);
CREATE TABLE custom (id int PRIMARY KEY, name text, archived boolean);
SELECT audit_enable('flagged');          -- detects is_deleted
SELECT audit_enable('stamped');          -- detects deleted_at
SELECT audit_enable('custom', soft_delete_column => 'archived');

INSERT INTO flagged VALUES (1, 'a');
UPDATE flagged SET is_deleted = true WHERE id = 1;
UPDATE flagged SET name = 'b' WHERE id = 1;           -- an ordinary update of a deleted row
UPDATE flagged SET is_deleted = false WHERE id = 1;

INSERT INTO stamped VALUES (1, 'a');
UPDATE stamped SET deleted_at = '2026-03-01 00:00:00+00' WHERE id = 1;
UPDATE stamped SET deleted_at = '2026-03-02 00:00:00+00' WHERE id = 1;  -- still deleted
UPDATE stamped SET deleted_at = NULL WHERE id = 1;

INSERT INTO custom VALUES (1, 'a', NULL);
UPDATE custom SET archived = true;
UPDATE custom SET archived = NULL;

SELECT table_name, action, soft_delete, old_values, new_values
FROM log WHERE action = 'UPDATE' AND table_name IN ('public.flagged', 'public.stamped', 'public.custom');

-- No soft-delete column: '' turns detection off.
SELECT audit_enable('flagged', soft_delete_column => '');
UPDATE flagged SET is_deleted = true;
SELECT action, soft_delete, new_values FROM log WHERE table_name = 'public.flagged' OFFSET 4;

-- A soft-delete column must exist and be boolean or a timestamp.
SELECT audit_enable('custom', soft_delete_column => 'nope');
SELECT audit_enable('custom', soft_delete_column => 'name');
