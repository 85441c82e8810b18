-- Every stored subtree hash (verify_audit rebuilds them).
SELECT level, index, hash FROM @extschema@.audit_tree_node
