-- The actor context from a statement's leading comment, for clients that
-- cannot SET LOCAL first (autocommit, statement pooling): read only with
-- lead_audit.comment_context on; a value that cannot be recorded fails the
-- write (22023), as a setting's does. Every statement here is autocommit.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, name text);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
CREATE VIEW who AS SELECT record_pk, actor_id, request_id, client_ip, user_agent, context FROM log;

-- Off (the default): a comment is just a comment.
/* lead_audit {"actor_id": "42", "request_id": "r-1"} */ INSERT INTO leads VALUES (1, 'a');
SET lead_audit.comment_context = on;
/* lead_audit {"actor_id": "42", "request_id": "r-1"} */ INSERT INTO leads VALUES (2, 'b');
/* lead_audit {"actor_id": 7, "client_ip": "203.0.113.9", "user_agent": "cli/1.0", "context": {"route": "PATCH /leads"}} */
UPDATE leads SET name = upper(name);
-- No comment, or another comment: the settings as usual.
INSERT INTO leads VALUES (3, 'c');
/* a note for the DBA */ INSERT INTO leads VALUES (4, 'd');
-- The comment wins over a setting, for its statement only.
SET lead_audit.actor_id = 'from-set';
/* lead_audit {"actor_id": "from-comment"} */ DELETE FROM leads WHERE id = 4;
DELETE FROM leads WHERE id = 3;
RESET lead_audit.actor_id;
SELECT * FROM who;

-- Values that cannot be recorded fail the write, which is then not made
-- (the comment is the client's statement's own: shown as the errors come).
/* lead_audit {"actor_id": "42" */ INSERT INTO leads VALUES (5, 'e');
/* lead_audit {"client_ip": "not-an-ip"} */ INSERT INTO leads VALUES (5, 'e');
/* lead_audit {"actorid": "42"} */ INSERT INTO leads VALUES (5, 'e');
\set VERBOSITY sqlstate
/* lead_audit {"context": "not an object"} */ INSERT INTO leads VALUES (5, 'e');
/* lead_audit [1, 2] */ INSERT INTO leads VALUES (5, 'e');
\set VERBOSITY default
SELECT count(*) AS not_written FROM leads WHERE id = 5;
-- A comment inside a function's own statements is not the client's: only the
-- statement the client sent counts.
SELECT try($q$ /* lead_audit {"actor_id": "inner"} */ INSERT INTO leads VALUES (6, 'f') $q$);
SELECT actor_id FROM audit_log WHERE record_pk = '{"id": 6}';
-- A statement that writes nothing audited does not read its comment.
/* lead_audit {"actor_id": "42" */ SELECT 1 AS fine;
