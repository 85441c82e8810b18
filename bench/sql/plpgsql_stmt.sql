-- The strongest hand-written pattern for bulk writes: statement-level
-- PL/pgSQL triggers with transition tables, one INSERT ... SELECT per statement.
\ir plpgsql_log.sql

CREATE OR REPLACE FUNCTION plpgsql_audit_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, new_values, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'INSERT', jsonb_build_object('id', n.id), to_jsonb(n),
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(to_jsonb(n)::text, 'UTF8'))
    FROM new_rows n;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION plpgsql_audit_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, old_values, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'DELETE', jsonb_build_object('id', o.id), to_jsonb(o),
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(to_jsonb(o)::text, 'UTF8'))
    FROM old_rows o;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION plpgsql_audit_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, old_values, new_values,
                             changed_columns, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'UPDATE', jsonb_build_object('id', d.id), d.o, d.n, d.cols,
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(d.o::text || d.n::text, 'UTF8'))
    FROM (
        SELECT n.id,
               jsonb_object_agg(k.key, oj -> k.key) AS o,
               jsonb_object_agg(k.key, k.value) AS n,
               array_agg(k.key) AS cols
        FROM new_rows n
        JOIN old_rows o USING (id)
        CROSS JOIN LATERAL (SELECT to_jsonb(o) AS oj) x
        CROSS JOIN LATERAL jsonb_each(to_jsonb(n)) k
        WHERE oj -> k.key IS DISTINCT FROM k.value
        GROUP BY n.id
    ) d;
    RETURN NULL;
END;
$$;
CREATE TRIGGER plpgsql_audit_ins AFTER INSERT ON leads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_ins();
CREATE TRIGGER plpgsql_audit_del AFTER DELETE ON leads REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_del();
CREATE TRIGGER plpgsql_audit_upd AFTER UPDATE ON leads REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_upd();
