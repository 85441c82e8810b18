DROP EXTENSION IF EXISTS lead_audit CASCADE;
CREATE EXTENSION lead_audit;
SELECT audit_enable('leads');
