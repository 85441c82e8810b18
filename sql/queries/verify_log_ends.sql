-- The smallest and largest audit id.
SELECT pg_catalog.min(id), pg_catalog.max(id) FROM @extschema@.audit_log
