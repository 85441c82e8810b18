-- INSERT, UPDATE, DELETE and the no-op UPDATE.
\i sql/prelude.psql
CREATE TABLE leads (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    full_name  text,
    status     text NOT NULL DEFAULT 'new',
    score      int,
    tags       text[],
    metadata   jsonb,
    revenue    numeric(12,2),
    created_at timestamptz NOT NULL DEFAULT '2026-01-02 03:04:05+00'
);
SELECT audit_enable('leads');

INSERT INTO leads (email, full_name, score, tags, metadata, revenue)
VALUES ('ada@example.com', 'Ada', 10, '{vip,"new lead"}', '{"utm": {"source": "ads"}}', 1200.50);
SELECT action, record_pk, old_values, new_values, changed_columns FROM log;

-- Only the changed columns are recorded, old and new.
UPDATE leads SET status = 'qualified', score = 20 WHERE id = 1;
SELECT action, record_pk, old_values, new_values, changed_columns FROM log OFFSET 1;

-- Setting a column to its current value changes nothing, and writes nothing.
UPDATE leads SET status = 'qualified', score = 20 WHERE id = 1;
UPDATE leads SET email = email;
SELECT count(*) AS audit_rows FROM log;

-- NULL to value and back count as changes.
UPDATE leads SET full_name = NULL WHERE id = 1;
UPDATE leads SET full_name = 'Ada L.' WHERE id = 1;
SELECT old_values, new_values, changed_columns FROM log OFFSET 2;

DELETE FROM leads WHERE id = 1;
SELECT action, record_pk, old_values, new_values FROM log OFFSET 4;

-- A composite primary key is recorded whole.
CREATE TABLE memberships (org int, member int, role text, PRIMARY KEY (org, member));
SELECT audit_enable('memberships');
INSERT INTO memberships VALUES (1, 2, 'admin');
UPDATE memberships SET role = 'owner';
SELECT action, record_pk, new_values FROM log WHERE table_name = 'public.memberships';

-- One UPDATE whose rows change different columns, more lists of them than
-- the writer keeps made at once, each coming back after others: every row
-- has its own list, and every row's checksum holds.
CREATE TABLE flags (id int PRIMARY KEY, a int, b int, c int);
SELECT audit_enable('flags') IS NOT NULL AS flags;
INSERT INTO flags SELECT g, 0, 0, 0 FROM generate_series(1, 15) g;
UPDATE flags SET a = a + (id & 1), b = b + (id & 2) / 2, c = c + (id & 4) / 4;
SELECT record_pk->>'id' AS id, changed_columns FROM log
WHERE table_name = 'public.flags' AND action = 'UPDATE' ORDER BY (record_pk->>'id')::int;
SELECT status, count(*) FROM verify_audit() GROUP BY status;
