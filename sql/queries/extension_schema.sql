-- The extension's schema: its oid, and its name quoted by PostgreSQL for
-- use in the other queries (src/audit_log/objects.rs puts it where they say @extschema@;
-- the background sealer also asks it whether the extension is installed).
SELECT e.extnamespace, pg_catalog.quote_ident(n.nspname)
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
WHERE e.extname OPERATOR(pg_catalog.=) 'lead_audit'
