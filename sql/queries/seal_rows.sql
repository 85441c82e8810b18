-- The rows to seal: those of the transactions in [$1, $2), in id order.
SELECT id, checksum
FROM @extschema@.audit_log
WHERE tx_id OPERATOR(pg_catalog.>=) $1 AND tx_id OPERATOR(pg_catalog.<) $2
ORDER BY id
