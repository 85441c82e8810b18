-- The log table both PL/pgSQL variants write.
DROP TABLE IF EXISTS plpgsql_log;
CREATE TABLE plpgsql_log (
    id bigserial PRIMARY KEY, tx_id bigint NOT NULL, logged_at timestamptz NOT NULL,
    table_name text NOT NULL, action text NOT NULL, record_pk jsonb, old_values jsonb,
    new_values jsonb, changed_columns text[], actor_id text, db_user text, checksum bytea);
CREATE INDEX ON plpgsql_log (record_pk);
