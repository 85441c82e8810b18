-- The chain's head: the block new blocks link to.
SELECT id, to_xid, block_hash
FROM @extschema@.audit_block
ORDER BY id DESC
LIMIT 1
