-- lead_audit: tables. Emitted first (bootstrap), before any function.

-- One row per changed row of an audited table. Written only by the extension's
-- triggers (a direct heap insert that needs no INSERT privilege); nobody may
-- UPDATE, DELETE or TRUNCATE it (see the guard trigger in api.sql).
CREATE TABLE audit_log (
    id               bigint      NOT NULL PRIMARY KEY,
    tx_id            xid8        NOT NULL,
    logged_at        timestamptz NOT NULL,
    table_oid        oid         NOT NULL,
    table_name       text        NOT NULL,
    action           text        NOT NULL
        CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    soft_delete      text
        CHECK (soft_delete IN ('deleted', 'restored')),
    record_pk        jsonb,
    old_values       jsonb,
    new_values       jsonb,
    changed_columns  text[],
    actor_id         text,
    client_ip        inet,
    user_agent       text,
    request_id       text,
    context          jsonb,
    db_user          text        NOT NULL,
    application_name text,
    checksum         bytea       NOT NULL
);

COMMENT ON TABLE audit_log IS
    'lead_audit: one row per changed row of an audited table; append-only, checksummed';

-- Ids come from this sequence, in insertion order.
CREATE SEQUENCE audit_log_id_seq AS bigint OWNED BY audit_log.id;
ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq');

-- History of one record: WHERE table_oid = 'leads'::regclass AND record_pk = '{"id": 7}'.
CREATE INDEX audit_log_record_idx ON audit_log (table_oid, record_pk);
-- Sealing (audit_seal) finds the rows of finished transactions by tx_id.
CREATE INDEX audit_log_tx_id_idx ON audit_log (tx_id);

-- Per-table settings written by audit_enable(); the triggers read them once per backend.
CREATE TABLE audit_table (
    relid              regclass    NOT NULL PRIMARY KEY,
    soft_delete_column name,
    truncate_rows      boolean     NOT NULL DEFAULT true,
    enabled_at         timestamptz NOT NULL DEFAULT now(),
    enabled_by         text        NOT NULL DEFAULT session_user
);

COMMENT ON TABLE audit_table IS 'lead_audit: the audited tables and their settings';

-- pg_dump keeps the audit data and the settings (they are not re-created by the script).
SELECT pg_catalog.pg_extension_config_dump('audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('audit_table', '');

REVOKE ALL ON audit_log, audit_table, audit_log_id_seq FROM PUBLIC;
-- The triggers read a table's settings as the writing role.
GRANT SELECT ON audit_table TO PUBLIC;
