-- Every signed checkpoint (verify_audit checks each against the rebuilt tree).
SELECT tree_size, note FROM @extschema@.audit_checkpoint ORDER BY tree_size
