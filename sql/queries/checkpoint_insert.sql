-- A signed checkpoint of the tree of $1 leaves ($2: the signed note).
INSERT INTO @extschema@.audit_checkpoint (tree_size, note) VALUES ($1, $2)
