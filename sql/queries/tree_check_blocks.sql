-- Every block's leaves, in chain order.
SELECT id, row_ids, row_checksums FROM @extschema@.audit_block ORDER BY id
