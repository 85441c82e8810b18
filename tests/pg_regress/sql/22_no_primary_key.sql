-- Tables without a primary key are audited: their records are named by the
-- replica identity index, else by their whole row; the log says which.
-- History, as-of and revert follow a key, and refuse a whole-row one (55000).
-- Dropping an audited table's primary key is recorded and capture goes on.
\i sql/prelude.psql
-- An event log: no key at all.
CREATE TABLE events (at timestamptz, kind text, payload jsonb, secret text);
SELECT audit_enable('events', exclude => '{payload}', redact => '{secret}');
INSERT INTO events VALUES ('2026-01-01 10:00+00', 'login', '{"ip": "10.0.0.1"}', 's1'),
                          ('2026-01-01 10:05+00', 'login', '{"ip": "10.0.0.2"}', 's2');
UPDATE events SET kind = 'logout' WHERE at = '2026-01-01 10:05+00';
DELETE FROM events WHERE kind = 'login';
-- The whole row as recorded is the key: excluded columns left out, redacted
-- ones hashed; an UPDATE is named by the row as it was.
SELECT action, record_pk ? 'payload' AS payload_in_key, record_pk->>'secret' LIKE 'hmac-sha256:%' AS secret_hashed,
       record_pk->>'kind' AS kind
FROM audit_log WHERE table_name = 'public.events' AND action <> 'DDL' ORDER BY id;
SELECT new_values->>'key' AS key FROM audit_log WHERE table_name = 'public.events' AND action = 'DDL';
SELECT table_name, record_key FROM audit_tables ORDER BY 1;
SELECT try($$ SELECT * FROM audit_history('events', '{"kind": "login"}') $$);
SELECT try($$ SELECT audit_row_as_of('events', '{"kind": "login"}', now()) $$);
SELECT try($$ SELECT * FROM audit_table_as_of('events', now()) $$);
SET lead_audit.request_id = 'events-request';
INSERT INTO events VALUES (now(), 'x', NULL, NULL);
RESET lead_audit.request_id;
SELECT try($$ SELECT audit_revert(request_id => 'events-request') $$);

-- A join table keyed by its replica identity index: history works.
CREATE TABLE lead_tags (lead_id int NOT NULL, tag text NOT NULL, note text);
CREATE UNIQUE INDEX lead_tags_key ON lead_tags (lead_id, tag);
ALTER TABLE lead_tags REPLICA IDENTITY USING INDEX lead_tags_key;
SELECT audit_enable('lead_tags');
SELECT try($$ SELECT audit_enable('lead_tags', redact => '{tag}') $$);
INSERT INTO lead_tags VALUES (1, 'vip', 'a');
UPDATE lead_tags SET note = 'b' WHERE lead_id = 1;
SELECT action, record_pk, old_values, new_values FROM audit_history('lead_tags', '{"lead_id": 1, "tag": "vip"}');
SELECT audit_row_as_of('lead_tags', '{"lead_id": 1, "tag": "vip"}', now());

-- An audited table loses its primary key: the DDL row says so, and its
-- writes go on being captured, named by the whole row.
CREATE TABLE imports (id int PRIMARY KEY, line text);
SELECT audit_enable('imports');
INSERT INTO imports VALUES (1, 'first');
ALTER TABLE imports DROP CONSTRAINT imports_pkey;
INSERT INTO imports VALUES (1, 'duplicate id, no key any more');
UPDATE imports SET line = 'changed' WHERE line = 'first';
SELECT action, record_pk, new_values->>'key' AS key FROM audit_log WHERE table_name = 'public.imports' ORDER BY id;
-- Its primary key back: history again, for the changes named by it.
ALTER TABLE imports ADD PRIMARY KEY (line);
INSERT INTO imports VALUES (2, 'second');
SELECT action, record_pk FROM audit_history('imports', '{"line": "second"}');

SELECT status FROM verify_audit();
