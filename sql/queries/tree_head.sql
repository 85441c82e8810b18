-- The tree's newest head: the last block appended, the tree's size after it
-- and its frontier (where appending goes on).
SELECT block_id, tree_size, frontier
FROM @extschema@.audit_tree
ORDER BY tree_size DESC
LIMIT 1
