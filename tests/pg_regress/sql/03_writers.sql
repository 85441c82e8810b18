-- Every kind of write is captured.
\i sql/prelude.psql
CREATE TABLE accounts (id int PRIMARY KEY, name text, balance numeric NOT NULL DEFAULT 0);
SELECT audit_enable('accounts');

-- COPY
COPY accounts (id, name) FROM stdin;
1	one
2	two
\.

-- INSERT ... ON CONFLICT: an update, a do-nothing, a fresh insert.
INSERT INTO accounts VALUES (1, 'uno') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name;
INSERT INTO accounts VALUES (2, 'dos') ON CONFLICT DO NOTHING;
INSERT INTO accounts VALUES (3, 'three') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name;

-- MERGE
MERGE INTO accounts a
USING (VALUES (2, 'deux'), (4, 'quatre'), (3, NULL)) AS s(id, name) ON a.id = s.id
WHEN MATCHED AND s.name IS NULL THEN DELETE
WHEN MATCHED THEN UPDATE SET name = s.name
WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name);

-- A function, and a BEFORE trigger that rewrites the row: the audit sees the
-- row as stored.
CREATE FUNCTION credit(account int, amount numeric) RETURNS void LANGUAGE sql AS
$$ UPDATE accounts SET balance = balance + amount WHERE id = account $$;
CREATE FUNCTION upper_name() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER a_upper BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION upper_name();
SELECT credit(1, 10);
INSERT INTO accounts VALUES (5, 'five');

-- A change made by another table's trigger.
CREATE TABLE transfers (id int PRIMARY KEY, account int, amount numeric);
CREATE FUNCTION apply_transfer() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM credit(NEW.account, NEW.amount); RETURN NULL; END $$;
CREATE TRIGGER t_apply AFTER INSERT ON transfers FOR EACH ROW EXECUTE FUNCTION apply_transfer();
INSERT INTO transfers VALUES (1, 2, 5);

SELECT action, record_pk, old_values, new_values FROM log WHERE table_name = 'public.accounts';

-- Partitioned tables: rows are recorded under the partition they live in.
CREATE TABLE events (id int, region text, payload text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
SELECT audit_enable('events');
CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');  -- created after audit_enable
INSERT INTO events VALUES (1, 'eu', 'a'), (2, 'us', 'b');
UPDATE events SET payload = 'c' WHERE id = 2;
UPDATE events SET region = 'eu' WHERE id = 2;                     -- moves to another partition
SELECT table_name, action, record_pk, old_values, new_values FROM log WHERE table_name LIKE 'public.events%';

-- TRUNCATE: a TRUNCATE row, then one row with the content of each removed row.
TRUNCATE accounts;
SELECT action, record_pk, old_values FROM log WHERE table_name = 'public.accounts' AND action = 'TRUNCATE';
-- truncate_rows => false records only the TRUNCATE itself.
SELECT audit_enable('accounts', truncate_rows => false);
INSERT INTO accounts VALUES (9, 'nine');
TRUNCATE accounts;
SELECT action, record_pk FROM log WHERE table_name = 'public.accounts' AND action = 'TRUNCATE';
-- Re-running audit_enable on a partitioned table adds TRUNCATE triggers to new partitions.
SELECT audit_enable('events');
TRUNCATE events;
SELECT table_name, action, record_pk FROM log WHERE table_name LIKE 'public.events%' AND action = 'TRUNCATE';
