-- The leaf of audit row $1: its block and its 0-based index in the tree
-- (the block's first leaf plus the row's position in row_ids); no row when
-- the audit row is not sealed, or its block is not in the tree yet.
SELECT b.id,
       t.tree_size OPERATOR(pg_catalog.-) b.row_count
           OPERATOR(pg_catalog.+) pg_catalog.array_position(b.row_ids, $1) OPERATOR(pg_catalog.-) 1
FROM @extschema@.audit_block b
JOIN @extschema@.audit_tree t ON t.block_id OPERATOR(pg_catalog.=) b.id
WHERE b.first_id OPERATOR(pg_catalog.<=) $1
  AND b.last_id OPERATOR(pg_catalog.>=) $1
  AND $1 OPERATOR(pg_catalog.=) ANY (b.row_ids)
ORDER BY b.id
LIMIT 1
