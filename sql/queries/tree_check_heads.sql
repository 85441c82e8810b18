-- Every block's stored tree size and root (verify_audit rebuilds them).
SELECT block_id, tree_size, root FROM @extschema@.audit_tree
