-- lead_audit's SQL API: a record's history: filing sealed rows by key, audit_history.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- audit_index_history(max_blocks): files the rows of sealed blocks not filed
-- yet in audit_record_index, oldest block first, at most max_blocks blocks
-- (NULL: all); returns how many entries it filed. Each row is filed under its
-- record_pk (the JSON null for a table's own events: DDL, TRUNCATE, ...), and
-- an UPDATE that changed the key also under the key it had before. The
-- background sealer runs it after each seal. Kept apart from audit_seal(),
-- which stays as fast as the ledger alone: filing is a btree insert per row,
-- and a block not filed yet only makes look-ups read its rows by tx_id,
-- never miss them. Filers and sealers take turns on the sealers' advisory
-- lock (_audit_seal_lock(): its key is written once, in src/ledger/seal.rs).
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_index_history(max_blocks integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    blk   record;
    filed bigint := 0;
    n     bigint;
BEGIN
    IF max_blocks < 0 THEN
        RAISE EXCEPTION 'lead_audit: max_blocks must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@._audit_seal_lock();
    FOR blk IN
        SELECT b.id, b.row_ids
        FROM @extschema@.audit_block b
        WHERE b.id > coalesce((SELECT max(f.block_id) FROM @extschema@.audit_record_filed f), 0)
        ORDER BY b.id
        LIMIT max_blocks
    LOOP
        INSERT INTO @extschema@.audit_record_index (pk_hash, id)
        SELECT k.pk_hash, l.id
        FROM unnest(blk.row_ids) AS r (id)
        JOIN @extschema@.audit_log l ON l.id = r.id
        CROSS JOIN LATERAL (
            SELECT jsonb_hash_extended(coalesce(l.record_pk, 'null'), l.table_oid::bigint)
            UNION ALL
            -- (the key changed: some key column's old value differs; a
            -- test with operators only, cheap for the many UPDATEs that did not)
            SELECT jsonb_hash_extended(@extschema@._audit_old_key(l.record_pk, l.old_values), l.table_oid::bigint)
            WHERE l.action = 'UPDATE' AND NOT (l.record_pk <@ (l.record_pk || l.old_values))
        ) AS k (pk_hash)
        ORDER BY 1;  -- btree inserts in key order
        GET DIAGNOSTICS n = ROW_COUNT;
        filed := filed + n;
        INSERT INTO @extschema@.audit_record_filed (block_id) VALUES (blk.id);
    END LOOP;
    RETURN filed;
END;
$$;
REVOKE ALL ON FUNCTION audit_index_history(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_seal_lock() FROM PUBLIC;

-- The key an UPDATE's record had before it: record_pk with the key columns
-- it changed put back; NULL when it changed none.
CREATE FUNCTION _audit_old_key(record_pk jsonb, old_values jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_object_agg(k.key, coalesce(old_values -> k.key, k.value))
    FROM jsonb_each(record_pk) AS k
    HAVING bool_or(old_values ? k.key AND old_values -> k.key IS DISTINCT FROM k.value)
$$;

-- A table and its partitions (their oids), as the log names them.
CREATE FUNCTION _audit_tree(target regclass) RETURNS oid[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(DISTINCT p.relid::oid)
    FROM (SELECT target AS relid UNION ALL SELECT t.relid FROM pg_partition_tree(target) t) AS p
$$;

-- ---------------------------------------------------------------------------
-- _audit_rows(table, key): the audit rows filed under one key of a table (or
-- of any of its partitions): the rows naming that record, and the UPDATEs
-- that moved a record from that key; with key NULL, the table's own events
-- (DDL, TRUNCATE, UNAUDITED). Rows of filed blocks come through
-- audit_record_index; the others (tx_id at or above the last filed block's
-- to_xid) through audit_log's BRIN index on tx_id, which the sealer keeps
-- summarised. Either way the rows themselves are checked, so a hash
-- collision cannot add a stranger's row. Runs as the caller: reading it
-- needs SELECT on audit_log, as reading the log does. No parallel workers
-- and no JIT: starting them costs more than the look-up (JIT compiling alone
-- took longer than the rest of a large log's look-up).
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_rows(target regclass, key jsonb) RETURNS SETOF audit_log
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET max_parallel_workers_per_gather = 0
SET jit = off
AS $$
    -- (The table's oids and their hashes are scalar sub-selects, computed
    -- once before the scans, so that they can drive the index scans.)
    SELECT l.*
    FROM @extschema@.audit_log l
    WHERE l.id IN (SELECT i.id FROM @extschema@.audit_record_index i
                   WHERE i.pk_hash = ANY ((SELECT array_agg(jsonb_hash_extended(coalesce(key, 'null'), o::bigint))
                                           FROM unnest(@extschema@._audit_tree(target)) AS o)::bigint[]))
      AND l.table_oid = ANY ((SELECT @extschema@._audit_tree(target))::oid[])
      AND (l.record_pk IS NOT DISTINCT FROM key
           OR (key IS NOT NULL AND l.action = 'UPDATE' AND l.old_values IS NOT NULL
               AND NOT (l.record_pk <@ (l.record_pk || l.old_values))
               AND @extschema@._audit_old_key(l.record_pk, l.old_values) = key))
    UNION ALL
    SELECT l.*
    FROM @extschema@.audit_log l
    WHERE l.tx_id >= coalesce((SELECT b.to_xid FROM @extschema@.audit_block b
                               WHERE b.id = (SELECT max(f.block_id) FROM @extschema@.audit_record_filed f)), 0)
      AND l.table_oid = ANY ((SELECT @extschema@._audit_tree(target))::oid[])
      AND (l.record_pk IS NOT DISTINCT FROM key
           OR (key IS NOT NULL AND l.action = 'UPDATE' AND l.old_values IS NOT NULL
               AND NOT (l.record_pk <@ (l.record_pk || l.old_values))
               AND @extschema@._audit_old_key(l.record_pk, l.old_values) = key))
$$;


-- ---------------------------------------------------------------------------
-- audit_history(table, pk): every audit row of one record, in id order (the
-- order of the changes), following primary-key changes: when an UPDATE gave
-- the record this key, the rows of the key it had before, up to that change;
-- when an UPDATE moved it to another key, the rows of that key from then on.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_history(target regclass, pk jsonb) RETURNS SETOF audit_log
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    keys   jsonb[] := ARRAY[pk];
    lows   bigint[] := ARRAY[0::bigint];
    highs  bigint[] := ARRAY[9223372036854775807];
    found  @extschema@.audit_log[] := '{}';
    ids    bigint[] := '{}';
    r      @extschema@.audit_log;
    old    jsonb;
    i      int := 1;
BEGIN
    IF target IS NULL OR pk IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_history() needs a table and a primary key, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF @extschema@._audit_record_key(target) = 'full row' THEN
        PERFORM @extschema@._audit_no_stable_key(target);
    END IF;
    -- Each key with the id range in which it named this record; a chain of
    -- key changes is followed at most 1000 keys deep.
    WHILE i <= cardinality(keys) AND i <= 1000 LOOP
        FOR r IN SELECT * FROM @extschema@._audit_rows(target, keys[i]) x
                 WHERE x.id BETWEEN lows[i] AND highs[i] ORDER BY x.id LOOP
            IF NOT r.id = ANY(ids) THEN
                ids := ids || r.id;
                found := found || r;
            END IF;
            CONTINUE WHEN r.action <> 'UPDATE'
                       OR coalesce(r.record_pk <@ (r.record_pk || r.old_values), true);  -- the key did not change
            old := @extschema@._audit_old_key(r.record_pk, r.old_values);
            IF r.record_pk = keys[i] AND NOT old = ANY(keys) THEN
                keys := keys || old; lows := lows || lows[i]; highs := highs || r.id;
            ELSIF old = keys[i] AND NOT r.record_pk = ANY(keys) THEN
                keys := keys || r.record_pk; lows := lows || r.id; highs := highs || highs[i];
            END IF;
        END LOOP;
        i := i + 1;
    END LOOP;
    RETURN QUERY SELECT * FROM unnest(found) x ORDER BY x.id;
END;
$$;
