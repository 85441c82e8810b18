-- The checksums of the leaves [$1, $2), from the blocks that hold them: the
-- blocks whose last leaf is at or after $1, up to the first that ends at or
-- after $2. Each row: the block's first leaf and last leaf + 1, and its
-- checksums of the leaves it holds in [$1, $2), sliced out of the stored
-- list (stored uncompressed, so only the slice is read). GREATEST and LEAST
-- are syntax, not functions: they cannot be schema-qualified.
SELECT s.first,
       s.last,
       pg_catalog.substr(s.sums,
                         ((GREATEST($1, s.first) OPERATOR(pg_catalog.-) s.first)
                             OPERATOR(pg_catalog.*) 32 OPERATOR(pg_catalog.+) 1)::pg_catalog.int4,
                         ((LEAST($2, s.last) OPERATOR(pg_catalog.-) GREATEST($1, s.first))
                             OPERATOR(pg_catalog.*) 32)::pg_catalog.int4)
FROM (SELECT t.tree_size OPERATOR(pg_catalog.-) b.row_count AS first, t.tree_size AS last,
             b.row_checksums AS sums
      FROM @extschema@.audit_tree t
      JOIN @extschema@.audit_block b ON b.id OPERATOR(pg_catalog.=) t.block_id
      WHERE t.tree_size OPERATOR(pg_catalog.>) $1
        AND t.tree_size OPERATOR(pg_catalog.<=)
            (SELECT pg_catalog.min(e.tree_size) FROM @extschema@.audit_tree e
             WHERE e.tree_size OPERATOR(pg_catalog.>=) $2)) s
ORDER BY s.last
