-- The oldest transaction still running: every row of an older one is final.
SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text
