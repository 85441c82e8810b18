-- Every block's stored tree size, root and frontier (verify_audit rebuilds them).
SELECT block_id, tree_size, root, frontier FROM @extschema@.audit_tree
