-- The stored subtree hashes at level $1 with index in [$2, $3), in order.
SELECT hash
FROM @extschema@.audit_tree_node
WHERE level OPERATOR(pg_catalog.=) $1
  AND index OPERATOR(pg_catalog.>=) $2
  AND index OPERATOR(pg_catalog.<) $3
ORDER BY index
