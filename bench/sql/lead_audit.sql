DROP EXTENSION IF EXISTS lead_audit CASCADE;
CREATE EXTENSION lead_audit;
SELECT audit_enable('leads');
-- Failed attempts tracked (the cluster preloads lead_audit), as in production.
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET lead_audit.record_attempts', current_database()); END $$;
