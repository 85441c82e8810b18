-- A new block's rows filed by record ($1: the hashes, $2: the ids, in step).
-- A row filed already (its block deleted by a superuser, and sealed again)
-- keeps its entry: sealing goes on, and verify_audit reports the block.
INSERT INTO @extschema@.audit_record_index (pk_hash, id)
SELECT h, i
FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int8[])) AS r (h, i)
ON CONFLICT DO NOTHING
