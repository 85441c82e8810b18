-- The history look-up (audit_history) on a large log. The log is made
-- directly, not by audited writes (10M audited writes would take minutes):
-- :rows rows over :keys records of leads (so :rows / :keys rows each), in one
-- transaction, with real 32-byte checksums so the sealer takes them, sealed
-- and filed (as the background sealer would have), then a tail of rows not
-- sealed yet
-- (what the last seconds wrote). The rows would fail verify_audit (their
-- checksums are not their forms): only the look-up is measured here.
INSERT INTO audit_log (id, tx_id, logged_at, table_oid, table_name, action, record_pk,
                       new_values, changed_columns, db_user, checksum, outcome)
SELECT nextval('audit_log_id_seq'), pg_current_xact_id()::text::bigint, now(), 'leads'::regclass,
       'public.leads', 'UPDATE', jsonb_build_object('id', g % :keys), '{"status": "contacted"}',
       '{status}', 'bench', sha256(g::text::bytea), 'committed'
FROM generate_series(1, :rows) g;
SELECT count(*) AS blocks FROM audit_seal() \gset
SELECT audit_index_history() AS filed \gset
INSERT INTO audit_log (id, tx_id, logged_at, table_oid, table_name, action, record_pk,
                       new_values, changed_columns, db_user, checksum, outcome)
SELECT nextval('audit_log_id_seq'), pg_current_xact_id()::text::bigint, now(), 'leads'::regclass,
       'public.leads', 'UPDATE', jsonb_build_object('id', g % :keys), '{"status": "won"}',
       '{status}', 'bench', sha256(g::text::bytea), 'committed'
FROM generate_series(1, :tail) g;
VACUUM ANALYZE audit_log;
VACUUM ANALYZE audit_record_index;
