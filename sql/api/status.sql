-- lead_audit's SQL API: audit_status: the health of the log.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- audit_status: one row saying how the log is doing, to alert on (see
-- docs/operations.md, "Health"): rows not sealed yet and the age of the oldest, the last
-- seal, whether the background sealer runs in this database, the blocks and
-- the newest digest, and failed attempts waiting or dropped.
-- ---------------------------------------------------------------------------
CREATE VIEW audit_status AS
SELECT u.unsealed_rows,
       now() - u.oldest_unsealed AS oldest_unsealed_age,
       b.sealed_at AS last_sealed_at,
       EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
               WHERE a.backend_type OPERATOR(pg_catalog.=) 'lead_audit sealer'
                 AND a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) AS sealer_running,
       (SELECT pg_catalog.count(*) FROM @extschema@.audit_block) AS blocks,
       @extschema@.audit_digest() AS last_digest,
       q.queued AS attempts_queued,
       q.dropped AS attempts_dropped,
       q.dropped_since_start AS attempts_dropped_since_start,
       (SELECT pg_catalog.count(*) FROM @extschema@.audit_table) AS audited_tables
FROM (SELECT NULL) AS one
LEFT JOIN LATERAL (SELECT x.id, x.sealed_at, x.to_xid FROM @extschema@.audit_block x
                   ORDER BY x.id DESC LIMIT 1) b ON true
CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS unsealed_rows, pg_catalog.min(l.logged_at) AS oldest_unsealed
                    FROM @extschema@.audit_log l
                    WHERE l.tx_id OPERATOR(pg_catalog.>=) coalesce(b.to_xid, 0)) u
CROSS JOIN @extschema@._audit_attempts_backlog() q;

COMMENT ON VIEW audit_status IS 'lead_audit: the health of the log (unsealed rows, last seal, sealer, attempts)';
