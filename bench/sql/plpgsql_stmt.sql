-- The strongest hand-written pattern for bulk writes: statement-level
-- PL/pgSQL triggers with transition tables, one INSERT ... SELECT per statement.
-- Each row's to_jsonb is computed once (OFFSET 0 keeps the planner from
-- inlining it into every use), so this baseline is not slowed down by the way
-- it is written.
\ir plpgsql_log.sql

CREATE OR REPLACE FUNCTION plpgsql_audit_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, new_values, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'INSERT', jsonb_build_object('id', r.id), r.nj,
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(r.nj::text, 'UTF8'))
    FROM (SELECT n.id, to_jsonb(n) AS nj FROM new_rows n OFFSET 0) r;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION plpgsql_audit_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, old_values, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'DELETE', jsonb_build_object('id', r.id), r.oj,
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(r.oj::text, 'UTF8'))
    FROM (SELECT o.id, to_jsonb(o) AS oj FROM old_rows o OFFSET 0) r;
    RETURN NULL;
END;
$$;
-- UPDATE: join old and new rows on id, keep only the keys whose value changed;
-- rows where nothing changed (no-op updates) produce no log row.
CREATE OR REPLACE FUNCTION plpgsql_audit_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, old_values, new_values,
                             changed_columns, actor_id, db_user, checksum)
    SELECT txid_current(), now(), TG_TABLE_NAME, 'UPDATE', jsonb_build_object('id', r.id), d.o, d.n, d.cols,
           current_setting('lead_audit.actor_id', true), session_user,
           sha256(convert_to(d.o::text || d.n::text, 'UTF8'))
    FROM (SELECT o.id, to_jsonb(o) AS oj, to_jsonb(n) AS nj
          FROM old_rows o JOIN new_rows n USING (id) OFFSET 0) r
    CROSS JOIN LATERAL (
        SELECT jsonb_object_agg(k.key, r.oj -> k.key) AS o,
               jsonb_object_agg(k.key, k.value) AS n,
               array_agg(k.key) AS cols
        FROM jsonb_each(r.nj) k
        WHERE r.oj -> k.key IS DISTINCT FROM k.value) d
    WHERE d.cols IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER plpgsql_audit_ins AFTER INSERT ON leads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_ins();
CREATE TRIGGER plpgsql_audit_del AFTER DELETE ON leads REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_del();
CREATE TRIGGER plpgsql_audit_upd AFTER UPDATE ON leads REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plpgsql_audit_upd();
