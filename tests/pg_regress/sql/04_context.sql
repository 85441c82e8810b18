-- The actor context comes from SET LOCAL lead_audit.* in the writing transaction.
\i sql/prelude.psql
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT audit_enable('notes');

BEGIN;
SET LOCAL lead_audit.actor_id = '42';
SET LOCAL lead_audit.client_ip = '203.0.113.7';
SET LOCAL lead_audit.user_agent = 'Mozilla/5.0 (X11; Linux x86_64)';
SET LOCAL lead_audit.request_id = 'req-9f2c';
SET LOCAL lead_audit.context = '{"tenant": "acme", "feature": ["beta"]}';
INSERT INTO notes VALUES (1, 'hello');
COMMIT;

-- set_config(..., true) is the same as SET LOCAL; an IPv6 address works too.
BEGIN;
SELECT set_config('lead_audit.actor_id', 'user-7', true), set_config('lead_audit.client_ip', '2001:db8::1', true);
UPDATE notes SET body = 'hi';
COMMIT;

-- Nothing leaks into the next transaction: no actor, and client_ip falls back
-- to the connection's address.
DELETE FROM notes;
SELECT action, actor_id, client_ip, user_agent, request_id, context, db_user FROM log WHERE table_name = 'public.notes';
SELECT DISTINCT application_name FROM audit_log WHERE table_name = 'public.notes';

-- Values that cannot be recorded fail the write: nothing unaudited commits.
BEGIN;
SET LOCAL lead_audit.client_ip = 'not-an-ip';
INSERT INTO notes VALUES (2, 'x');
ROLLBACK;
BEGIN;
SET LOCAL lead_audit.context = '[1, 2]';
INSERT INTO notes VALUES (2, 'x');
ROLLBACK;
BEGIN;
SET LOCAL lead_audit.context = '{"unterminated": ';
INSERT INTO notes VALUES (2, 'x');
ROLLBACK;
BEGIN;
SET LOCAL lead_audit.client_ip = '10.0.0.1/40';
SELECT try($$ INSERT INTO notes VALUES (2, 'x') $$);
ROLLBACK;
SELECT count(*) AS notes_rows FROM notes;

-- Empty values mean "not set".
BEGIN;
SET LOCAL lead_audit.actor_id = '';
SET LOCAL lead_audit.context = '';
INSERT INTO notes VALUES (3, 'y');
COMMIT;
SELECT actor_id, context FROM log WHERE table_name = 'public.notes' AND action = 'INSERT' OFFSET 1;

-- Whatever jsonb accepts is a valid context: numbers beyond a double, deep nesting.
BEGIN;
SET LOCAL lead_audit.context = '{"big": 1e400, "small": -1e-400}';
INSERT INTO notes VALUES (4, 'big');
COMMIT;
SELECT context -> 'big' = to_jsonb(1e400) AS big_number_kept, context ? 'small' AS small_kept
FROM audit_log WHERE record_pk = '{"id": 4}';
BEGIN;
SELECT set_config('lead_audit.context', repeat('{"a": ', 300) || '1' || repeat('}', 300), true) IS NOT NULL AS set;
INSERT INTO notes VALUES (5, 'deep');
COMMIT;
SELECT context #>> (SELECT array_agg('a'::text) FROM generate_series(1, 300)) AS deepest_value
FROM audit_log WHERE record_pk = '{"id": 5}';
-- A JSON value that is not an object, and a client_ip with spaces around it
-- (inet takes none), fail the write with 22023.
BEGIN;
SET LOCAL lead_audit.context = '"just a string"';
SELECT try($$ INSERT INTO notes VALUES (6, 'x') $$);
ROLLBACK;
BEGIN;
SET LOCAL lead_audit.client_ip = ' 203.0.113.7 ';
SELECT try($$ INSERT INTO notes VALUES (6, 'x') $$);
ROLLBACK;
