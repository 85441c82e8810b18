-- The tree's size, root and frontier after each of the blocks appended ($1
-- block ids, $2 sizes, $3 roots, $4 frontiers).
INSERT INTO @extschema@.audit_tree (block_id, tree_size, root, frontier)
SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int8[]),
                        pg_catalog.unnest($3::pg_catalog.bytea[]), pg_catalog.unnest($4::pg_catalog.bytea[]))
