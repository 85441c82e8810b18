-- One seal by the background worker.
SELECT pg_catalog.count(*) FROM @extschema@.audit_seal()
