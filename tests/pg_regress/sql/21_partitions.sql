-- Partitions audited on their own and through their parent: one capture
-- trigger per table, so ATTACH and DETACH work in either order, every row is
-- captured exactly once, and the table's own options apply when it has them.
\i sql/prelude.psql
CREATE TABLE deals (id int, region text, amount int, note text, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE deals_eu PARTITION OF deals FOR VALUES IN ('eu');
CREATE TABLE deals_us (id int, region text, amount int, note text, PRIMARY KEY (id, region));
CREATE TABLE deals_asia (id int, region text, amount int, note text, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE deals_jp PARTITION OF deals_asia FOR VALUES IN ('jp');
-- Captured rows per table and action, and the capture triggers per table
-- (c: a clone of an ancestor's, o: its own).
CREATE VIEW counts AS
SELECT table_name, action, count(*) FROM audit_log
WHERE action IN ('INSERT', 'UPDATE', 'DELETE') GROUP BY 1, 2 ORDER BY 1, 2;
CREATE VIEW captures AS
SELECT tgrelid::regclass AS rel, tgname,
       CASE WHEN tgparentid = 0 THEN 'own' ELSE 'clone' END AS kind, tgenabled
FROM pg_trigger WHERE tgname IN ('lead_audit_capture', 'lead_audit_stamp')
ORDER BY tgrelid, tgname;  -- the tables in the order they were created

-- The partition first, on its own (excluding note), then attached to the
-- audited parent.
SELECT audit_enable('deals_us', exclude => '{note}');
SELECT audit_enable('deals');
ALTER TABLE deals ATTACH PARTITION deals_us FOR VALUES IN ('us');
SELECT * FROM captures;
INSERT INTO deals VALUES (1, 'eu', 10, 'a'), (2, 'us', 20, 'b');
UPDATE deals SET note = 'only the note' WHERE id = 2;
UPDATE deals SET note = 'only the note' WHERE id = 1;
SELECT * FROM counts;
-- Its own options still apply: the note is excluded.
SELECT table_name, new_values FROM audit_log WHERE action = 'INSERT' ORDER BY id;

-- Detached: it keeps being audited on its own, with its own trigger.
ALTER TABLE deals DETACH PARTITION deals_us;
SELECT * FROM captures;
INSERT INTO deals_us VALUES (3, 'us', 30, 'c');
DELETE FROM deals_us WHERE id = 2;
SELECT * FROM counts;

-- The parent audited after its partition: the partition gives its trigger up.
ALTER TABLE deals ATTACH PARTITION deals_us FOR VALUES IN ('us');
SELECT audit_disable('deals');
SELECT * FROM captures;
SELECT audit_enable('deals');
SELECT * FROM captures;
INSERT INTO deals VALUES (4, 'us', 40, 'd');
SELECT * FROM counts;

-- audit_disable on the parent: the partition audited on its own keeps being
-- audited (its own trigger back); the other partitions stop.
SELECT audit_disable('deals');
SELECT * FROM captures;
INSERT INTO deals VALUES (5, 'us', 50, 'e'), (6, 'eu', 60, 'f');
SELECT * FROM counts;

-- A partition audited only through its parent, then detached: no longer audited.
SELECT audit_enable('deals');
ALTER TABLE deals DETACH PARTITION deals_eu;
SELECT * FROM captures;
INSERT INTO deals_eu VALUES (7, 'eu', 70, 'g');
SELECT count(*) AS deals_eu_rows FROM audit_log WHERE table_name = 'public.deals_eu' AND record_pk->>'id' = '7';

-- A partitioned table audited on its own, attached under the audited parent,
-- and detached again.
SELECT audit_enable('deals_asia');
ALTER TABLE deals ATTACH PARTITION deals_asia FOR VALUES IN ('jp');
SELECT * FROM captures;
INSERT INTO deals VALUES (8, 'jp', 80, 'h');
ALTER TABLE deals DETACH PARTITION deals_asia;
INSERT INTO deals_asia VALUES (9, 'jp', 90, 'i');
SELECT * FROM captures;
SELECT * FROM counts;

-- audit_disable on a partition audited on its own and through its parent:
-- its rows are still captured, through the parent's clone.
SELECT audit_enable('deals_us', exclude => '{note}');
SELECT audit_disable('deals_us');
UPDATE deals SET amount = 41 WHERE id = 4;
SELECT table_name, action, record_pk FROM audit_log WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1;

-- A table owner who is not a superuser attaches and detaches.
CREATE ROLE deal_owner;
CREATE TABLE owned (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE owned_a (id int, region text, PRIMARY KEY (id, region));
ALTER TABLE owned OWNER TO deal_owner;
ALTER TABLE owned_a OWNER TO deal_owner;
SELECT audit_enable('owned');
SELECT audit_enable('owned_a');
SET ROLE deal_owner;
ALTER TABLE owned ATTACH PARTITION owned_a FOR VALUES IN ('a');
INSERT INTO owned VALUES (1, 'a');
ALTER TABLE owned DETACH PARTITION owned_a;
INSERT INTO owned_a VALUES (2, 'a');
RESET ROLE;
SELECT table_name, action, record_pk FROM audit_log WHERE table_name LIKE 'public.owned%' AND action = 'INSERT' ORDER BY id;

-- DETACH ... CONCURRENTLY, which runs in two transactions.
SELECT audit_enable('deals_eu');
ALTER TABLE deals ATTACH PARTITION deals_eu FOR VALUES IN ('eu');
SELECT * FROM captures WHERE rel = 'deals_eu'::regclass;
ALTER TABLE deals DETACH PARTITION deals_eu CONCURRENTLY;
SELECT * FROM captures WHERE rel = 'deals_eu'::regclass;
INSERT INTO deals_eu VALUES (10, 'eu', 100, 'j');
SELECT count(*) AS captured_once FROM audit_log WHERE table_name = 'public.deals_eu' AND record_pk->>'id' = '10';

SELECT status FROM verify_audit();
