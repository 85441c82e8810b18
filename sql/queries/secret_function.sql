-- The function that hands the redaction key to the capture triggers.
SELECT '@extschema@._audit_secret()'::pg_catalog.regprocedure::pg_catalog.oid
