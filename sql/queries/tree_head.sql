-- The tree's newest head: the last block appended and the tree's size after it.
SELECT block_id, tree_size
FROM @extschema@.audit_tree
ORDER BY tree_size DESC
LIMIT 1
