-- The floor: the audit rows lead_audit writes, already built (floor_rows_*,
-- made once per run by run.sh), appended with INSERT ... SELECT into a table
-- shaped and indexed as audit_log (sql/schema.sql). No trigger, no JSON, no
-- checksum: what writing the rows costs by itself.
DROP TABLE IF EXISTS floor_log;
CREATE TABLE floor_log (
    id               bigint      NOT NULL PRIMARY KEY,
    tx_id            bigint      NOT NULL,
    logged_at        timestamptz NOT NULL,
    table_oid        oid         NOT NULL,
    table_name       text        NOT NULL,
    action           text        NOT NULL
        CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'DDL', 'UNAUDITED')),
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
    checksum         bytea       NOT NULL,
    outcome          text
        CHECK (outcome IN ('committed', 'failed')),
    error            jsonb
);
CREATE INDEX ON floor_log USING hash (record_pk);
CREATE INDEX ON floor_log USING brin (tx_id);
