-- Captured rows are written in batches: by the end of each statement, in
-- their own subtransaction, in the order of the changes, and never when
-- the change they record rolled back.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, status text);
CREATE TABLE notes (id int PRIMARY KEY, lead_id int, body text);
SELECT audit_enable('leads') IS NOT NULL AS leads, audit_enable('notes') IS NOT NULL AS notes;

-- More rows than a batch holds (1000): all of them, ids in the order of the changes.
INSERT INTO leads SELECT g, 'new' FROM generate_series(1, 2500) g ORDER BY g;
SELECT count(*) AS rows, count(DISTINCT id) AS ids,
       bool_and(record_pk = jsonb_build_object('id', id - min_id + 1)) AS ids_follow_the_changes
FROM audit_log, (SELECT min(id) AS min_id FROM audit_log WHERE action = 'INSERT') m
WHERE action = 'INSERT';

-- A statement's rows are in the log when the next statement of the same
-- transaction starts.
BEGIN;
UPDATE leads SET status = 'contacted' WHERE id <= 1500;
SELECT count(*) AS updates_seen_in_the_transaction FROM audit_log WHERE action = 'UPDATE';
COMMIT;

-- A savepoint rolled back takes its rows; one released keeps them.
BEGIN;
UPDATE leads SET status = 'a' WHERE id = 1;
SAVEPOINT s1;
UPDATE leads SET status = 'gone' WHERE id BETWEEN 2 AND 1200;
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
UPDATE leads SET status = 'kept' WHERE id = 3;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT count(*) FILTER (WHERE new_values->>'status' = 'gone') AS rolled_back,
       count(*) FILTER (WHERE new_values->>'status' IN ('a', 'kept')) AS kept
FROM audit_log;

-- A PL/pgSQL block whose statements fail after capturing rows: only the
-- statements that stood are recorded.
DO $$
BEGIN
    FOR i IN 1..3 LOOP
        BEGIN
            INSERT INTO notes VALUES (i, 1, 'note ' || i);
            IF i = 2 THEN
                RAISE EXCEPTION 'undo note 2';
            END IF;
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END LOOP;
END;
$$;
SELECT record_pk FROM log WHERE table_name = 'public.notes';

-- The rows of an outer statement wait while a trigger of the same statement
-- runs a subtransaction that writes and then rolls back: the outer rows are
-- written with their own statement, the inner rows not at all.
CREATE FUNCTION note_each_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO notes VALUES (1000 + NEW.id, NEW.id, 'auto');
        IF NEW.id % 2 = 0 THEN
            RAISE EXCEPTION 'no note for even leads';
        END IF;
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN NULL;
END;
$$;
CREATE TRIGGER zz_note AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION note_each_lead();
INSERT INTO leads SELECT g, 'new' FROM generate_series(3001, 3010) g;
SELECT (SELECT count(*) FROM audit_log WHERE table_name = 'public.leads' AND (record_pk->>'id')::int > 3000) AS lead_rows,
       (SELECT count(*) FROM notes WHERE id > 1000) AS notes_kept,
       (SELECT count(*) FROM audit_log WHERE table_name = 'public.notes' AND (record_pk->>'id')::int > 1000) AS note_rows;
DROP TRIGGER zz_note ON leads;

-- A deferred trigger that writes at COMMIT: its rows commit too.
CREATE FUNCTION note_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notes VALUES (5000 + NEW.id, NEW.id, 'at commit');
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER at_commit AFTER UPDATE ON leads DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION note_at_commit();
BEGIN;
UPDATE leads SET status = 'won' WHERE id = 7;
SELECT count(*) AS before_commit FROM audit_log WHERE record_pk = '{"id": 5007}';
COMMIT;
SELECT count(*) AS after_commit FROM audit_log WHERE record_pk = '{"id": 5007}';

-- Sealing summarises audit_log's full BRIN ranges and leaves the last,
-- partial one unsummarised (its summary would be widened by every new row):
-- summarising that range afterwards finds it to do (1), an earlier one not (0).
SELECT count(*) > 0 AS sealed FROM audit_seal();
CREATE TABLE wide (id int PRIMARY KEY, body text);
SELECT audit_enable('wide') IS NOT NULL AS wide;
INSERT INTO wide SELECT g, repeat('w', 300) FROM generate_series(1, 1500) g;
SELECT count(*) > 0 AS sealed_again FROM audit_seal();
SELECT pg_relation_size('audit_log') / 8192 > 128 AND pg_relation_size('audit_log') / 8192 % 128 <> 0 AS partial_last_range;
SELECT brin_summarize_range(i, 0) AS first_range_again,
       brin_summarize_range(i, pg_relation_size('audit_log') / 8192 - 1) AS last_range_again
FROM unnest(ARRAY['audit_log_tx_id_idx', 'audit_log_logged_at_idx']::regclass[]) i;

-- A batch written into block ranges that audit_log's BRIN indexes already
-- summarise (the last, partial range now too, as above) is found through
-- them: the writer gives each block the entries its range needs, once per
-- block and key.
UPDATE wide SET body = repeat('v', 300) WHERE id % 3 = 0;
SET enable_seqscan = off;
SELECT w.action, w.written,
       (SELECT count(*) FROM audit_log a WHERE a.tx_id = w.tx_id) AS found_by_tx_id,
       (SELECT count(*) FROM audit_log a WHERE a.logged_at = w.logged_at) AS found_by_logged_at
FROM (SELECT action, count(*) AS written, min(tx_id) AS tx_id, min(logged_at) AS logged_at
      FROM audit_log WHERE table_name = 'public.wide' GROUP BY action) w
ORDER BY w.action;
RESET enable_seqscan;

-- A batch that fails part-way (an id already taken: the sequence set back)
-- in a subtransaction: the transaction goes on, and its later batches are
-- written whole (the slots a batch is written through are kept per
-- transaction; those of the failed batch are not used again).
CREATE TABLE again (id int PRIMARY KEY);
SELECT audit_enable('again') IS NOT NULL AS again;
BEGIN;
INSERT INTO again SELECT g FROM generate_series(1, 1500) g;
SELECT setval('audit_log_id_seq', (SELECT max(id) - 10 FROM audit_log)) > 0 AS set_back;
SELECT try('INSERT INTO again SELECT g FROM generate_series(2001, 3500) g');
SELECT setval('audit_log_id_seq', (SELECT max(id) FROM audit_log)) > 0 AS set_forward;
INSERT INTO again SELECT g FROM generate_series(4001, 5500) g;
UPDATE again SET id = id + 10000 WHERE id <= 1500;
COMMIT;
SELECT count(*) FILTER (WHERE action = 'INSERT') AS inserts,
       count(*) FILTER (WHERE action = 'UPDATE') AS updates,
       count(*) FILTER (WHERE (record_pk->>'id')::int BETWEEN 2001 AND 3500) AS failed_statement,
       count(DISTINCT id) = count(*) AS ids_unique
FROM audit_log WHERE table_name = 'public.again';

-- Every row is whole: the log verifies, sealed or not.
SELECT count(*) > 0 AS sealed FROM audit_seal();
SELECT status, count(*) FROM verify_audit() GROUP BY status;
