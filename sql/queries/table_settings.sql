-- A table's settings from audit_table, inherited from the nearest audited
-- ancestor for a partition ($1: the table's oid), as one JSON object: its
-- keys are whatever columns this version's audit_table has (0.1.0's has
-- fewer), and the reader gives the others their defaults.
SELECT pg_catalog.to_jsonb(t)::text
FROM (SELECT $1::pg_catalog.regclass, 0::bigint
      UNION ALL
      SELECT * FROM pg_catalog.pg_partition_ancestors($1) WITH ORDINALITY) AS a(relid, n)
JOIN @extschema@.audit_table t ON t.relid OPERATOR(pg_catalog.=) a.relid
ORDER BY a.n
LIMIT 1
