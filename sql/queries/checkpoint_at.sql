-- The signed checkpoint of the tree of $1 leaves (the log's signature only).
SELECT note FROM @extschema@.audit_checkpoint WHERE tree_size OPERATOR(pg_catalog.=) $1
