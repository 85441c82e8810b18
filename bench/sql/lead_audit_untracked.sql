-- lead_audit with failed-attempt tracking off: what tracking costs a
-- successful write is the difference to the lead_audit way.
DROP EXTENSION IF EXISTS lead_audit CASCADE;
CREATE EXTENSION lead_audit;
SELECT audit_enable('leads');
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lead_audit.record_attempts = off', current_database()); END $$;
