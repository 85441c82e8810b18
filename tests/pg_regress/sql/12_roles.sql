-- The role matrix: what the application role, a table owner who is not a
-- superuser, and an auditor may and may not do. Each cell is 'ok' or the
-- SQLSTATE the attempt got.
\i sql/prelude.psql
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
DROP ROLE IF EXISTS matrix_app, matrix_owner, matrix_auditor;
CREATE ROLE matrix_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON leads TO matrix_app;
CREATE ROLE matrix_owner;
GRANT CREATE, USAGE ON SCHEMA public TO matrix_owner;
CREATE TABLE owned (id int PRIMARY KEY);
ALTER TABLE owned OWNER TO matrix_owner;
SELECT audit_enable('owned') IS NOT NULL AS enabled;
CREATE ROLE matrix_auditor;
GRANT SELECT ON audit_log TO matrix_auditor;   -- the one grant verify_audit() needs

-- Runs a statement as a role; 'ok' or the SQLSTATE.
CREATE FUNCTION as_role(r text, statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    result := split_part(try(statement), ':', 1);
    RESET ROLE;
    RETURN result;
END;
$$;
GRANT EXECUTE ON FUNCTION as_role(text, text), try(text) TO matrix_app, matrix_owner, matrix_auditor;

SELECT coalesce(max(id), 0) AS before FROM audit_log \gset
SELECT role, action, as_role(role, statement) AS result
FROM (VALUES
    (1, 'matrix_app', 'write the audited table', $$INSERT INTO leads VALUES (1, 'a')$$),
    (2, 'matrix_app', 'switch auditing off', $$SET lead_audit.enabled = off$$),
    (3, 'matrix_app', 'replica mode', $$SET session_replication_role = replica$$),
    (4, 'matrix_app', 'read audit_log', $$SELECT count(*) FROM audit_log$$),
    (5, 'matrix_app', 'edit audit_log', $$UPDATE audit_log SET actor_id = 'x'$$),
    (6, 'matrix_app', 'verify', $$SELECT count(*) FROM verify_audit()$$),
    (7, 'matrix_app', 'seal', $$SELECT count(*) FROM audit_seal()$$),
    (8, 'matrix_app', 'read the digest', $$SELECT audit_digest()$$),
    (9, 'matrix_app', 'audit_disable', $$SELECT audit_disable('leads')$$),
    (10, 'matrix_app', 'drop the trigger', $$DROP TRIGGER lead_audit_capture ON leads$$),
    (11, 'matrix_app', 'write a DDL row', $$SELECT _audit_append_ddl('leads'::regclass, NULL, '{}')$$),
    (12, 'matrix_app', 'hide DDL', $$SELECT _audit_ddl_quiet(true)$$),
    (13, 'matrix_app', 'record DDL outside DDL', $$SELECT _audit_record_altered('ALTER TABLE')$$),
    (14, 'matrix_owner', 'write its table', $$INSERT INTO owned VALUES (1)$$),
    (15, 'matrix_owner', 'add a column', $$ALTER TABLE owned ADD COLUMN note text$$),
    (16, 'matrix_owner', 'disable the trigger', $$ALTER TABLE owned DISABLE TRIGGER lead_audit_capture$$),
    (17, 'matrix_owner', 'origin-only trigger', $$ALTER TABLE owned ENABLE TRIGGER lead_audit_capture$$),
    (18, 'matrix_owner', 'rename the trigger', $$ALTER TRIGGER lead_audit_capture ON owned RENAME TO x$$),
    (19, 'matrix_owner', 'drop the trigger', $$DROP TRIGGER lead_audit_capture ON owned$$),
    (20, 'matrix_owner', 'audit_disable', $$SELECT audit_disable('owned')$$),
    (21, 'matrix_owner', 'switch auditing off', $$SET lead_audit.enabled = off$$),
    (22, 'matrix_auditor', 'verify', $$SELECT count(*) FROM verify_audit()$$),
    (23, 'matrix_auditor', 'read audit_log', $$SELECT count(*) FROM audit_log$$),
    (24, 'matrix_auditor', 'edit audit_log', $$DELETE FROM audit_log$$),
    (25, 'matrix_auditor', 'write the audited table', $$INSERT INTO leads VALUES (2, 'b')$$)
) AS m(n, role, action, statement)
ORDER BY n;

-- What was allowed is in the log: the rows, and the owner's new column.
SELECT action, table_name, record_pk, new_values ->> 'command' AS command FROM audit_log
WHERE id > :before ORDER BY id;
SELECT status FROM verify_audit();
\c postgres
DROP DATABASE lead_audit_scenario WITH (FORCE);
DROP ROLE matrix_app, matrix_owner, matrix_auditor;
