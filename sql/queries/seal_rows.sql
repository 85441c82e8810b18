-- The rows to seal: those of the transactions in [$1, $2), in id order, each
-- with the hash that audit_record_index files it under (NULL when the row
-- names no record).
SELECT id, checksum,
       pg_catalog.jsonb_hash_extended(record_pk, table_oid::pg_catalog.int8) AS pk_hash
FROM @extschema@.audit_log
WHERE tx_id OPERATOR(pg_catalog.>=) $1 AND tx_id OPERATOR(pg_catalog.<) $2
ORDER BY id
