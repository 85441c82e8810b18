-- The row forms (docs/canonical-forms.md), re-implemented in plain SQL:
-- pg_temp.row_form(audit_log row) -> the canonical bytes, whose SHA-256 is
-- the row's checksum: the form v2 for a row with an outcome, v1 for a row
-- without one (written by 0.1.0). Used by the #[pg_test]s that check the
-- golden vectors (src/tests/mod.rs) and by the ledger scenario that forges a row
-- (tests/pg_regress/sql/08_ledger.sql): one definition, not two.
-- client_ip: abbrev(inet) is inet's output function (what COPY and the writer
-- print: no mask for a single host); inet::text would always add the mask.
CREATE FUNCTION pg_temp.row_fields(VARIADIC x text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(CASE WHEN v IS NULL THEN '~' ELSE octet_length(v) || ':' || v END, ''
                               ORDER BY n), '')
    FROM unnest(x) WITH ORDINALITY AS u(v, n)
$$;

-- The 18 fields both forms start with.
CREATE FUNCTION pg_temp.row_fields_v1(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.row_fields(r.id::text, r.tx_id::text,
                              ((extract(epoch FROM r.logged_at) * 1000000)::numeric(30,0))::text,
                              r.table_oid::text, r.table_name, r.action, r.soft_delete, r.record_pk::text,
                              r.old_values::text, r.new_values::text, r.changed_columns::text, r.actor_id,
                              abbrev(r.client_ip), r.user_agent, r.request_id, r.context::text, r.db_user,
                              r.application_name)
$$;

CREATE FUNCTION pg_temp.row_form_v1(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to('lead_audit:row:v1' || E'\n' || pg_temp.row_fields_v1(r), 'UTF8')
$$;

CREATE FUNCTION pg_temp.row_form_v2(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to('lead_audit:row:v2' || E'\n' || pg_temp.row_fields_v1(r)
                      || pg_temp.row_fields(r.outcome, r.error::text), 'UTF8')
$$;

CREATE FUNCTION pg_temp.row_form(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r.outcome IS NULL THEN pg_temp.row_form_v1(r) ELSE pg_temp.row_form_v2(r) END
$$;
