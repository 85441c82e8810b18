-- A witness's cosignature line of the checkpoint of size $1, unless stored already.
INSERT INTO @extschema@.audit_cosignature (tree_size, signature) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING 1
