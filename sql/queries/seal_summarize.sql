-- After sealing: summarise audit_log's BRIN ranges filled since the last
-- time, so that a look-up of the rows not sealed yet (tx_id at or above the
-- last block's to_xid) reads the newest ranges only. The last range, still
-- being filled, is left unsummarised (brin_summarize_new_values takes it
-- too, so its summary is dropped again when it is partial): while it has a
-- summary every new row widens it, a WAL-logged update of one index page
-- that every writer queues for. The look-up reads that range anyway, as it
-- holds the newest rows. ($1: audit_log's oid. Target entries are evaluated
-- in order: the size is read after summarising.)
SELECT pg_catalog.brin_summarize_new_values(i.indexrelid),
       CASE WHEN (pg_catalog.pg_relation_size($1) OPERATOR(pg_catalog./) s.block_size)
                 OPERATOR(pg_catalog.%) s.per_range OPERATOR(pg_catalog.<>) 0
            THEN pg_catalog.brin_desummarize_range(
                     i.indexrelid,
                     pg_catalog.pg_relation_size($1) OPERATOR(pg_catalog./) s.block_size
                         OPERATOR(pg_catalog.-) 1)
       END
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.relam
CROSS JOIN LATERAL (
    SELECT pg_catalog.current_setting('block_size')::pg_catalog.int8 AS block_size,
           coalesce((SELECT o.option_value::pg_catalog.int8
                     FROM pg_catalog.pg_options_to_table(c.reloptions) o
                     WHERE o.option_name OPERATOR(pg_catalog.=) 'pages_per_range'), 128) AS per_range
) s
WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND a.amname OPERATOR(pg_catalog.=) 'brin'
