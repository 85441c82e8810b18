-- The tree's size and root after each of the blocks appended ($1 block ids, $2 sizes, $3 roots).
INSERT INTO @extschema@.audit_tree (block_id, tree_size, root)
SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int8[]),
                        pg_catalog.unnest($3::pg_catalog.bytea[]))
