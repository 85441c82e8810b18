-- Sealers queue here; writers never take it ($1: the sealers' advisory lock key).
SELECT pg_catalog.pg_advisory_xact_lock($1)
