-- The blocks not in the tree yet (after block $1), in chain order, with their checksums.
SELECT id, row_count, row_checksums
FROM @extschema@.audit_block
WHERE id OPERATOR(pg_catalog.>) $1
ORDER BY id
