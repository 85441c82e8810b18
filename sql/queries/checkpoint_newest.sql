-- The newest checkpoint: its size, and its signed note with the witnesses'
-- cosignature lines after the log's signature, in the order they came.
SELECT c.tree_size,
       c.note OPERATOR(pg_catalog.||) coalesce(
           (SELECT pg_catalog.string_agg(s.signature OPERATOR(pg_catalog.||) E'\n', ''
                                         ORDER BY s.added_at, s.signature)
            FROM @extschema@.audit_cosignature s
            WHERE s.tree_size OPERATOR(pg_catalog.=) c.tree_size), '')
FROM @extschema@.audit_checkpoint c
ORDER BY c.tree_size DESC
LIMIT 1
