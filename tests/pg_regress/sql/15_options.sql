-- The options of audit_enable: exclude, redact, full_rows, baseline; the
-- audit_tables view; changing options on an audited table; bad options.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, name text, email text, password text,
                    score int, is_deleted boolean NOT NULL DEFAULT false);
INSERT INTO leads VALUES (1, 'Ada', 'ada@example.com', 'hunter2', 10),
                         (2, 'Bob', 'bob@example.com', 'hunter2', 20);

-- baseline: one SNAPSHOT row per row present, so each history starts whole.
SELECT audit_enable('leads', exclude => array['score'], redact => array['password'], baseline => true);
SELECT action, record_pk, new_values - 'password' AS new_values,
       new_values->>'password' LIKE 'hmac-sha256:%' AS password_hashed
FROM audit_log WHERE action = 'SNAPSHOT' ORDER BY id;
SELECT table_name, soft_delete_column, truncate_rows, exclude, redact, full_rows, capturing FROM audit_tables;

-- exclude: never recorded; an UPDATE of excluded columns alone writes nothing.
UPDATE leads SET score = 11 WHERE id = 1;
INSERT INTO leads VALUES (3, 'Cy', 'cy@example.com', 's3cret', 30);
SELECT action, record_pk, new_values ? 'score' AS has_score FROM log;

-- redact: a keyed hash of the value (64 hex digits), the same for equal
-- values, never the value itself; a change is still a change.
SELECT (SELECT new_values->>'password' FROM audit_log WHERE record_pk = '{"id": 1}' AND action = 'SNAPSHOT')
     = (SELECT new_values->>'password' FROM audit_log WHERE record_pk = '{"id": 2}' AND action = 'SNAPSHOT') AS equal_values_equal_hashes,
       (SELECT new_values->>'password' FROM audit_log WHERE record_pk = '{"id": 3}')
       ~ '^hmac-sha256:[0-9a-f]{64}$' AS hash_form,
       (SELECT count(*) FROM audit_log WHERE audit_log::text LIKE '%hunter2%' OR audit_log::text LIKE '%s3cret%') AS clear_values_in_log;
UPDATE leads SET password = 'hunter3' WHERE id = 2;
SELECT changed_columns, old_values->>'password' <> new_values->>'password' AS hash_changed FROM audit_log
WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;

-- The key is readable by superusers only; a role that may write the table
-- writes redacted rows all the same.
DROP ROLE IF EXISTS clerk;
CREATE ROLE clerk LOGIN;
GRANT SELECT, INSERT, UPDATE ON leads TO clerk;
\c - clerk
SELECT try('SELECT secret FROM audit_secret');
SELECT try('SELECT _audit_secret()');
UPDATE leads SET password = 'hunter2', name = 'Bob B.' WHERE id = 2;
\c - postgres
SELECT db_user, changed_columns,
       new_values->>'password' = (SELECT new_values->>'password' FROM audit_log WHERE record_pk = '{"id": 1}' AND action = 'SNAPSHOT') AS same_hash_as_ada
FROM audit_log WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;

-- full_rows: an UPDATE records the whole old and new row (still without the
-- excluded column, still hashing the redacted one).
SELECT audit_enable('leads', full_rows => true) IS NOT NULL AS changed;
UPDATE leads SET name = 'Ada L.' WHERE id = 1;
SELECT changed_columns, old_values - 'password' AS old_values, new_values - 'password' AS new_values
FROM audit_log WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;
-- Options not given keep their values; each call is recorded with the
-- options before and after.
SELECT table_name, exclude, redact, full_rows FROM audit_tables;
SELECT new_values->'previous'->'full_rows' AS before, new_values->'options'->'full_rows' AS after,
       new_values->'options'->'exclude' AS exclude
FROM audit_log WHERE action = 'DDL' ORDER BY id DESC LIMIT 1;
SELECT audit_enable('leads', full_rows => false, exclude => '{}') IS NOT NULL AS changed;
UPDATE leads SET score = 12, name = 'Ada' WHERE id = 1;
SELECT changed_columns, old_values, new_values FROM audit_log WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;

-- A renamed column stays redacted under its new name; a dropped one leaves
-- the option.
ALTER TABLE leads RENAME COLUMN password TO pass;
SELECT redact FROM audit_tables;
UPDATE leads SET pass = 'x' WHERE id = 1;
SELECT new_values->>'pass' LIKE 'hmac-sha256:%' AS still_hashed FROM audit_log WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;
SELECT audit_enable('leads', exclude => array['email']) IS NOT NULL AS changed;
ALTER TABLE leads DROP COLUMN email;
SELECT exclude, redact FROM audit_tables;

-- A partitioned table: the baseline covers every partition.
CREATE TABLE events (id int, region text, payload text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
INSERT INTO events VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'us', 'c');
SELECT audit_enable('events', baseline => true);
SELECT table_name, record_pk FROM audit_log WHERE action = 'SNAPSHOT' AND table_name LIKE 'public.events%' ORDER BY id;

-- Bad options: a clear error each, and nothing changes.
SELECT try($$ SELECT audit_enable('leads', exclude => array['nope']) $$);
SELECT try($$ SELECT audit_enable('leads', redact => array['id']) $$);
SELECT try($$ SELECT audit_enable('leads', exclude => array['name'], redact => array['name']) $$);
SELECT try($$ SELECT audit_enable('leads', exclude => array[NULL]) $$);
SELECT try($$ SELECT audit_enable('leads', exclude => array['is_deleted']) $$);
SELECT table_name, exclude, redact, full_rows FROM audit_tables ORDER BY 1;

-- A baseline renders the table's values as the table's owner, not as the
-- extension's owner that audit_enable runs as: a function of the owner's
-- (here a cast to json of a type of theirs, which to_jsonb calls) never
-- runs with a superuser's rights.
DROP ROLE IF EXISTS table_owner;
CREATE ROLE table_owner LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO table_owner;
GRANT EXECUTE ON FUNCTION audit_enable(regclass, name, boolean, text[], text[], boolean, boolean, boolean, jsonb) TO table_owner;
CREATE TABLE whoami (who name);
GRANT INSERT ON whoami TO table_owner;
\c - table_owner
CREATE TYPE mood AS ENUM ('calm', 'cross');
CREATE FUNCTION mood_json(m mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.whoami VALUES (current_user);
    RETURN pg_catalog.to_json(m::text);
END;
$$;
CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
CREATE TABLE moods (id int PRIMARY KEY, m mood);
INSERT INTO moods VALUES (1, 'calm'), (2, 'cross');
SELECT audit_enable('moods', baseline => true) IS NOT NULL AS enabled;
\c - postgres
SELECT DISTINCT who FROM whoami;
SELECT new_values FROM audit_log WHERE table_name = 'public.moods' AND action = 'SNAPSHOT' ORDER BY id;
