-- An application role can write audited tables, and its writes are recorded,
-- but it can neither touch the audit log nor switch auditing off.
\i sql/prelude.psql
SET client_min_messages = warning;
DROP ROLE IF EXISTS app_writer; -- left by an earlier run (its database is gone)
RESET client_min_messages;
CREATE ROLE app_writer LOGIN;
CREATE TABLE orders (id int PRIMARY KEY, total numeric);
SELECT audit_enable('orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO app_writer;

\c - app_writer
-- Before lead_audit is loaded in a session its settings are placeholders;
-- loading the library throws away a non-superuser's lead_audit.enabled.
SET lead_audit.enabled = off;
SET lead_audit.actor_id = 'app';
INSERT INTO orders VALUES (0, 0);
SHOW lead_audit.enabled;
INSERT INTO orders VALUES (1, 10);
UPDATE orders SET total = 12;
DELETE FROM orders;
SELECT try($$ SELECT * FROM audit_log $$);
SELECT try($$ INSERT INTO audit_log (tx_id, logged_at, table_oid, table_name, action, db_user, checksum) VALUES ('1', now(), 0, 'x', 'INSERT', 'x', '\x00') $$);
SELECT try($$ UPDATE audit_log SET actor_id = 'someone else' $$);
SELECT try($$ DELETE FROM audit_log $$);
SELECT try($$ TRUNCATE audit_log $$);
SELECT try($$ SET lead_audit.enabled = off $$);
SELECT try($$ SELECT set_config('lead_audit.enabled', 'off', true) $$);
SELECT try($$ SELECT audit_disable('orders') $$);
SELECT try($$ DROP TRIGGER lead_audit_capture ON orders $$);
SELECT try($$ ALTER TABLE orders DISABLE TRIGGER lead_audit_capture $$);
SELECT try($$ SELECT nextval('audit_log_id_seq') $$);
INSERT INTO orders VALUES (2, 20);

\c - postgres
SELECT action, record_pk, actor_id, db_user FROM log WHERE table_name = 'public.orders';
-- Even the owner and superusers cannot edit the log through SQL.
SELECT try($$ UPDATE audit_log SET actor_id = 'x' $$);
SELECT try($$ DELETE FROM audit_log $$);
SELECT try($$ TRUNCATE audit_log $$);

-- An auditor needs one grant: SELECT on audit_log (audit_block is readable by
-- everyone). Without it, verify_audit says so with 42501.
SELECT count(*) > 0 AS sealed FROM audit_seal();
SET client_min_messages = warning;
DROP ROLE IF EXISTS auditor; -- left by an earlier run (its database is gone)
RESET client_min_messages;
CREATE ROLE auditor LOGIN;
\c - auditor
SELECT try($$ SELECT * FROM verify_audit() $$);
\c - postgres
GRANT SELECT ON audit_log TO auditor;
\c - auditor
SELECT status FROM verify_audit();
SELECT try($$ DELETE FROM audit_log $$);
\c - postgres
