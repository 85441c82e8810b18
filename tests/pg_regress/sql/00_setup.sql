-- Runs first: the extension, and a helper that shows an error's SQLSTATE.
CREATE EXTENSION lead_audit;
CREATE FUNCTION try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END;
$$;
-- A compact view of the audit log for the scenarios (no ids, times or checksums).
CREATE VIEW log AS
SELECT table_name, action, soft_delete, record_pk, old_values, new_values, changed_columns,
       actor_id, client_ip, user_agent, request_id, context, db_user
FROM audit_log ORDER BY id;
