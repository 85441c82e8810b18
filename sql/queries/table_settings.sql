-- A table's settings from audit_table, inherited from the nearest audited
-- ancestor for a partition ($1: the table's oid).
SELECT t.soft_delete_column::text, t.truncate_rows, t.exclude::text[], t.redact::text[], t.full_rows, t.stamp, t.stamp_columns::text
FROM (SELECT $1::pg_catalog.regclass, 0::bigint
      UNION ALL
      SELECT * FROM pg_catalog.pg_partition_ancestors($1) WITH ORDINALITY) AS a(relid, n)
JOIN @extschema@.audit_table t ON t.relid OPERATOR(pg_catalog.=) a.relid
ORDER BY a.n
LIMIT 1
