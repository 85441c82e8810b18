-- Every block in chain order, with its row lists only when it overlaps the
-- audit ids [$1, $2] being verified (an empty range loads no lists).
-- sealed_at in microseconds since the Unix epoch; NULL when not finite.
SELECT id, from_xid, to_xid, first_id, last_id, row_count, rows_hash, prev_hash, block_hash,
       CASE WHEN pg_catalog.isfinite(sealed_at)
            THEN (pg_catalog.extract('epoch', sealed_at) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 END,
       CASE WHEN first_id OPERATOR(pg_catalog.<=) $2 AND last_id OPERATOR(pg_catalog.>=) $1 THEN row_ids END,
       CASE WHEN first_id OPERATOR(pg_catalog.<=) $2 AND last_id OPERATOR(pg_catalog.>=) $1 THEN row_checksums END
FROM @extschema@.audit_block
ORDER BY id
