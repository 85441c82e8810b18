-- Where verify_audit's passes start: the ids at positions 1, 1 + $3,
-- 1 + 2 * $3, ... of the audit ids in [$1, $2], in order. One scan of the
-- primary key: the time follows the rows present, not the span of their ids.
SELECT id
FROM (SELECT id, pg_catalog.row_number() OVER (ORDER BY id) AS n
      FROM @extschema@.audit_log
      WHERE id OPERATOR(pg_catalog.>=) $1 AND id OPERATOR(pg_catalog.<=) $2) AS s
WHERE ((n OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.%) $3) OPERATOR(pg_catalog.=) 0
ORDER BY id
