-- After sealing: summarise audit_log's BRIN ranges filled since the last
-- time, so that a look-up of the rows not sealed yet (tx_id at or above the
-- last block's to_xid) reads the newest ranges only. Writers keep the
-- summaries current from then on.
SELECT pg_catalog.brin_summarize_new_values(i.indexrelid)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.relam
WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND a.amname OPERATOR(pg_catalog.=) 'brin'
