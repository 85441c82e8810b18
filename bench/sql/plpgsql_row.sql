-- The audit trigger teams write themselves: PL/pgSQL, FOR EACH ROW, to_jsonb
-- of OLD and NEW, a key-by-key diff, sha256, an INSERT into a log table.
\ir plpgsql_log.sql

CREATE OR REPLACE FUNCTION plpgsql_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    o jsonb := old_j;
    n jsonb := new_j;
    cols text[];
    k text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        o := '{}'; n := '{}';
        FOR k IN SELECT jsonb_object_keys(new_j) LOOP
            IF old_j -> k IS DISTINCT FROM new_j -> k THEN
                o := o || jsonb_build_object(k, old_j -> k);
                n := n || jsonb_build_object(k, new_j -> k);
                cols := cols || k;
            END IF;
        END LOOP;
        IF cols IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO plpgsql_log (tx_id, logged_at, table_name, action, record_pk, old_values,
                             new_values, changed_columns, actor_id, db_user, checksum)
    VALUES (txid_current(), now(), TG_TABLE_NAME, TG_OP,
            jsonb_build_object('id', coalesce(new_j, old_j) -> 'id'), o, n, cols,
            current_setting('lead_audit.actor_id', true), session_user,
            sha256(convert_to(concat_ws('|', TG_TABLE_NAME, TG_OP, o::text, n::text,
                                        current_setting('lead_audit.actor_id', true)), 'UTF8')));
    RETURN NULL;
END;
$$;
CREATE TRIGGER plpgsql_audit AFTER INSERT OR UPDATE OR DELETE ON leads
    FOR EACH ROW EXECUTE FUNCTION plpgsql_audit_row();
