-- Written with the previous version installed: every kind of change, with
-- context, then sealed; a few rows left unsealed on purpose.
CREATE TABLE leads (
    id int PRIMARY KEY, email text, status text DEFAULT 'new',
    is_deleted boolean NOT NULL DEFAULT false, meta jsonb, seen timestamptz DEFAULT '2026-11-22 10:00:00.123456+00');
SELECT audit_enable('leads');
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
SET LOCAL lead_audit.client_ip = '203.0.113.7/24';
SET LOCAL lead_audit.request_id = 'req-before';
SET LOCAL lead_audit.context = '{"route": "POST /leads", "note": "é \" \\ tab\t"}';
INSERT INTO leads (id, email, meta)
SELECT g, 'lead' || g || '@example.com', jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'é', g * 1.5))
FROM generate_series(1, 300) g;
COMMIT;
UPDATE leads SET status = 'contacted' WHERE id % 3 = 0;
UPDATE leads SET is_deleted = true WHERE id % 10 = 0;
DELETE FROM leads WHERE id % 7 = 0;
CREATE TABLE scratch (id int PRIMARY KEY, v text);
SELECT audit_enable('scratch');
INSERT INTO scratch SELECT g, 'v' || g FROM generate_series(1, 5) g;
TRUNCATE scratch;
SELECT count(*) > 0 AS sealed FROM audit_seal();
INSERT INTO leads (id, email) VALUES (1000, 'late@example.com');
