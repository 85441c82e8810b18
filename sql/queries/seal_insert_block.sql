-- One new block ($2: sealed_at in microseconds since the Unix epoch).
-- (Operators written OPERATOR(pg_catalog.x) all bind alike: hence the parentheses.)
INSERT INTO @extschema@.audit_block
    (id, sealed_at, from_xid, to_xid, first_id, last_id, row_count,
     row_ids, row_checksums, rows_hash, prev_hash, block_hash)
VALUES ($1,
        'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
            ($2 OPERATOR(pg_catalog.*) '1 microsecond'::pg_catalog.interval),
        $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
