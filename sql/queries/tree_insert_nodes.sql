-- The complete subtrees the appended leaves made ($1 levels, $2 indexes, $3 hashes).
INSERT INTO @extschema@.audit_tree_node (level, index, hash)
SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int2[]), pg_catalog.unnest($2::pg_catalog.int8[]),
                        pg_catalog.unnest($3::pg_catalog.bytea[]))
