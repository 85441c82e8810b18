-- lead_audit's triggers installed and firing, but capturing nothing: with
-- lead_audit.enabled off (for this database's new sessions) the row trigger
-- only counts the rows (one UNAUDITED row per transaction). What the row
-- trigger costs in PostgreSQL (the after-trigger queue, fetching each row,
-- the call) before any value is rendered. setup() resets the setting.
\ir lead_audit.sql
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lead_audit.enabled = off', current_database()); END $$;
