-- lead_audit: the SQL API. Emitted last (finalize): it uses the Rust functions
-- (_audit_invalidate(), _audit_verify(), ...).

-- The capture triggers (src/capture/mod.rs: written by hand, so that a call
-- that does not come from the trigger manager gets 39P01).
CREATE FUNCTION audit_capture_row() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'audit_capture_row_wrapper';
CREATE FUNCTION audit_capture_truncate() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'audit_capture_truncate_wrapper';

-- ---------------------------------------------------------------------------
-- audit_log is append-only. Nobody holds INSERT/UPDATE/DELETE/TRUNCATE on it
-- (the triggers write with a direct heap insert that needs no privilege), and
-- this guard also stops the owner and superusers, unless they deliberately
-- bypass triggers (session_replication_role = replica), which verify_audit()
-- then catches.
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lead_audit: % is append-only; % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are written by lead_audit''s triggers only.';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_block_append_only
    BEFORE UPDATE OR DELETE ON audit_block
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_block_no_truncate
    BEFORE TRUNCATE ON audit_block
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_index_append_only
    BEFORE UPDATE OR DELETE ON audit_record_index
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_index_no_truncate
    BEFORE TRUNCATE ON audit_record_index
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_filed_append_only
    BEFORE UPDATE OR DELETE ON audit_record_filed
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_filed_no_truncate
    BEFORE TRUNCATE ON audit_record_filed
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();

-- ---------------------------------------------------------------------------
-- audit_enable(table, soft_delete_column, truncate_rows)
--   soft_delete_column: NULL (default) detects a boolean "is_deleted" or a
--   timestamp "deleted_at" column; '' means the table has none.
--   truncate_rows: TRUNCATE also records every removed row (default true).
-- Idempotent: calling it again updates the settings and adds the TRUNCATE
-- trigger to partitions created since.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_enable(
    target regclass,
    soft_delete_column name DEFAULT NULL,
    truncate_rows boolean DEFAULT true
) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel        record;
    soft_col   name;
    soft_type  regtype;
    part       regclass;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_enable() needs a table, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF truncate_rows IS NULL THEN
        RAISE EXCEPTION 'lead_audit: truncate_rows must be true or false, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lead_audit: table with oid % does not exist', target::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT pg_has_role(session_user, rel.relowner, 'MEMBER') THEN
        RAISE EXCEPTION 'lead_audit: must be the owner of table % to audit it', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'lead_audit: % is not a table', target
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be audited.';
    END IF;
    IF target IN ('@extschema@.audit_log'::regclass, '@extschema@.audit_table'::regclass,
                  '@extschema@.audit_block'::regclass, '@extschema@.audit_record_index'::regclass,
                  '@extschema@.audit_record_filed'::regclass) THEN
        RAISE EXCEPTION 'lead_audit: % cannot audit itself', target
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = target AND contype = 'p') THEN
        RAISE EXCEPTION 'lead_audit: table % has no primary key', target
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Every audit row names the changed record by its primary key.',
                  HINT = format('Add one (ALTER TABLE %s ADD PRIMARY KEY (...)) and call audit_enable again.', target);
    END IF;

    -- The soft-delete column: named, none (''), or detected.
    IF soft_delete_column = '' THEN
        soft_col := NULL;
    ELSIF soft_delete_column IS NOT NULL THEN
        SELECT a.attname, a.atttypid::regtype INTO soft_col, soft_type
        FROM pg_attribute a
        WHERE a.attrelid = target AND a.attname = soft_delete_column
          AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'lead_audit: table % has no column "%"', target, soft_delete_column
                USING ERRCODE = 'undefined_column';
        END IF;
        IF soft_type NOT IN ('boolean'::regtype, 'timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
            RAISE EXCEPTION 'lead_audit: soft-delete column "%" of % is %, not boolean or a timestamp',
                soft_delete_column, target, soft_type
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    ELSE
        SELECT a.attname INTO soft_col
        FROM pg_attribute a
        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
          AND ((a.attname = 'is_deleted' AND a.atttypid = 'boolean'::regtype)
            OR (a.attname = 'deleted_at' AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)))
        ORDER BY a.attname = 'is_deleted' DESC
        LIMIT 1;
    END IF;

    INSERT INTO @extschema@.audit_table AS t (relid, soft_delete_column, truncate_rows)
    VALUES (target, soft_col, audit_enable.truncate_rows)
    ON CONFLICT (relid) DO UPDATE
        SET soft_delete_column = EXCLUDED.soft_delete_column,
            truncate_rows = EXCLUDED.truncate_rows;

    -- The row trigger on the table (PostgreSQL clones it onto partitions,
    -- present and future).
    -- Both fire ALWAYS: also in replica mode (session_replication_role =
    -- replica) and for changes applied by logical replication. This DDL is
    -- recorded once, as audit_enable, below.
    PERFORM @extschema@._audit_ddl_quiet(true);
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = target AND tgname = 'lead_audit_capture' AND tgparentid = 0) THEN
        EXECUTE format('CREATE TRIGGER lead_audit_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_capture_row()', target);
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER lead_audit_capture', target);
    -- TRUNCATE triggers are not cloned: put one on the table and each partition.
    FOR part IN SELECT target UNION SELECT relid FROM pg_partition_tree(target) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'lead_audit_truncate') THEN
            EXECUTE format('CREATE TRIGGER lead_audit_truncate BEFORE TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_capture_truncate()', part);
        END IF;
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER lead_audit_truncate', part);
        PERFORM @extschema@._audit_invalidate(part);
    END LOOP;
    PERFORM @extschema@._audit_ddl_quiet(false);
    PERFORM @extschema@._audit_append_ddl(target, NULL, jsonb_build_object(
        'command', 'audit_enable', 'statement', current_query(),
        'soft_delete_column', soft_col, 'truncate_rows', audit_enable.truncate_rows)::text);

    IF NOT @extschema@._audit_attempts_recorded() THEN
        RAISE NOTICE 'lead_audit: failed attempts on % will not be recorded', target
            USING DETAIL = 'lead_audit is not in shared_preload_libraries: committed changes are recorded, writes that fail leave no record.',
                  HINT = 'Add lead_audit to shared_preload_libraries and restart the server.';
    END IF;
    RETURN format('lead_audit: auditing %s (soft-delete column: %s, TRUNCATE records rows: %s)',
                  target, coalesce(soft_col::text, 'none'), audit_enable.truncate_rows);
END;
$$;

-- ---------------------------------------------------------------------------
-- audit_disable(table): removes the triggers and the settings; the audit rows
-- stay. Idempotent.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_disable(target regclass) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid;
    part  regclass;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_disable() needs a table, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relowner INTO owner FROM pg_class c WHERE c.oid = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lead_audit: table with oid % does not exist', target::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT pg_has_role(session_user, owner, 'MEMBER') THEN
        RAISE EXCEPTION 'lead_audit: must be the owner of table % to stop auditing it', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = 'lead_audit_capture')
       AND NOT EXISTS (SELECT 1 FROM @extschema@.audit_table WHERE relid = target) THEN
        RETURN format('lead_audit: %s was not audited', target);
    END IF;
    -- Recorded once, as audit_disable, rather than as the triggers' DROPs.
    PERFORM @extschema@._audit_ddl_quiet(true);
    EXECUTE format('DROP TRIGGER IF EXISTS lead_audit_capture ON %s', target);
    FOR part IN SELECT target UNION SELECT relid FROM pg_partition_tree(target) LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS lead_audit_truncate ON %s', part);
        PERFORM @extschema@._audit_invalidate(part);
    END LOOP;
    PERFORM @extschema@._audit_ddl_quiet(false);
    PERFORM @extschema@._audit_append_ddl(target, NULL, jsonb_build_object(
        'command', 'audit_disable', 'statement', current_query())::text);
    DELETE FROM @extschema@.audit_table WHERE relid = target;
    RETURN format('lead_audit: stopped auditing %s', target);
END;
$$;

-- Turning auditing on or off is for table owners and superusers, and only
-- through roles granted EXECUTE explicitly.
REVOKE ALL ON FUNCTION audit_enable(regclass, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_disable(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_invalidate(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_log_append_only() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- verify_audit(digest, from_id, to_id): reads the digest here, in SQL, so any
-- jsonb gets a clear answer (a number beyond a double, an object nested deeper
-- than a JSON library goes: 22023), then runs the verifier (_audit_verify).
-- block_id must be an integer (1, 1e0 and 1.5e1 are; 1.5 and 2.0 are not, as
-- jsonb prints them) that fits a bigint, block_hash a string.
-- ---------------------------------------------------------------------------
CREATE FUNCTION verify_audit(digest jsonb DEFAULT NULL, from_id bigint DEFAULT NULL, to_id bigint DEFAULT NULL)
RETURNS TABLE(status text, audit_id bigint, detail text, block_id bigint)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id_text    text;
    digest_id  bigint;
    digest_hash text;
BEGIN
    IF digest IS NOT NULL THEN
        IF jsonb_typeof(digest) = 'object'
           AND jsonb_typeof(digest -> 'block_id') = 'number'
           AND jsonb_typeof(digest -> 'block_hash') = 'string' THEN
            id_text := (digest -> 'block_id')::text;
            IF id_text ~ '^-?[0-9]{1,19}$'
               AND id_text::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
                digest_id := id_text::bigint;
                digest_hash := digest ->> 'block_hash';
            END IF;
        END IF;
        IF digest_id IS NULL THEN
            RAISE EXCEPTION 'lead_audit: a digest is a JSON object with "block_id" and "block_hash", as audit_digest() returns'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@._audit_verify(digest_id, digest_hash, from_id, to_id);
END;
$$;

-- ---------------------------------------------------------------------------
-- _audit_epoch(): this cluster's transaction id offset (audit_epoch), added
-- the first time it is needed: large enough that every transaction of this
-- cluster counts above every one the log already holds (blocks, and rows
-- not sealed yet). inserted: whether this call added it (it then holds only
-- if this transaction commits). Called by the writers and audit_seal().
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_epoch(OUT xid_offset bigint, OUT inserted boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sysid  bigint := (SELECT c.system_identifier FROM pg_control_system() c);
    head   bigint;
    needed bigint;
BEGIN
    inserted := false;
    SELECT e.xid_offset INTO xid_offset FROM @extschema@.audit_epoch e WHERE e.system_identifier = sysid;
    IF FOUND THEN
        RETURN;
    END IF;
    -- One cluster, one offset: whoever comes second waits and reads it.
    LOCK TABLE @extschema@.audit_epoch IN SHARE ROW EXCLUSIVE MODE;
    SELECT e.xid_offset INTO xid_offset FROM @extschema@.audit_epoch e WHERE e.system_identifier = sysid;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT b.to_xid INTO head FROM @extschema@.audit_block b ORDER BY b.id DESC LIMIT 1;
    needed := greatest(coalesce(head, 0),
                       (SELECT max(l.tx_id) FROM @extschema@.audit_log l WHERE l.tx_id >= coalesce(head, 0)));
    xid_offset := greatest(0, coalesce(needed, 0) + 1 - pg_current_xact_id()::text::bigint);
    INSERT INTO @extschema@.audit_epoch (system_identifier, xid_offset) VALUES (sysid, xid_offset)
    ON CONFLICT (system_identifier) DO NOTHING;
    IF NOT FOUND THEN
        -- Added meanwhile by a transaction this one's snapshot cannot see.
        RAISE EXCEPTION 'lead_audit: this cluster''s transaction id offset was added concurrently'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
    inserted := true;
END;
$$;

-- ---------------------------------------------------------------------------
-- audit_digest(): the newest block's id and hash, to keep outside the
-- database; verify_audit(digest) later proves the chain still holds it.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_digest() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'block_id', b.id,
               'block_hash', encode(b.block_hash, 'hex'),
               'sealed_at', b.sealed_at,
               'rows_sealed', (SELECT sum(row_count) FROM @extschema@.audit_block),
               'database', current_database())
    FROM @extschema@.audit_block b
    ORDER BY b.id DESC
    LIMIT 1
$$;

-- ---------------------------------------------------------------------------
-- audit_index_history(max_blocks): files the rows of sealed blocks not filed
-- yet in audit_record_index, oldest block first, at most max_blocks blocks
-- (NULL: all); returns how many rows it filed. The background sealer runs it
-- after each seal. Kept apart from audit_seal(), which stays as fast as the
-- ledger alone: filing is a btree insert per row, and a block not filed yet
-- only makes audit_history() read its rows by tx_id, never miss them.
-- Filers and sealers take turns on the sealers' advisory lock (the key is
-- SEAL_LOCK_KEY in src/ledger/seal.rs).
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
    PERFORM pg_advisory_xact_lock(x'1eada0d1'::bigint);
    FOR blk IN
        SELECT b.id, b.row_ids
        FROM @extschema@.audit_block b
        WHERE b.id > coalesce((SELECT max(f.block_id) FROM @extschema@.audit_record_filed f), 0)
        ORDER BY b.id
        LIMIT max_blocks
    LOOP
        INSERT INTO @extschema@.audit_record_index (pk_hash, id)
        SELECT jsonb_hash_extended(l.record_pk, l.table_oid::bigint), l.id
        FROM unnest(blk.row_ids) AS r (id)
        JOIN @extschema@.audit_log l ON l.id = r.id
        WHERE l.record_pk IS NOT NULL
        ORDER BY 1;  -- btree inserts in key order
        GET DIAGNOSTICS n = ROW_COUNT;
        filed := filed + n;
        INSERT INTO @extschema@.audit_record_filed (block_id) VALUES (blk.id);
    END LOOP;
    RETURN filed;
END;
$$;
REVOKE ALL ON FUNCTION audit_index_history(integer) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- audit_history(table, pk): every audit row of one record, in id order (the
-- order of the changes). Rows of filed blocks are found through
-- audit_record_index; the others (tx_id at or above the last filed block's
-- to_xid) through audit_log's BRIN index on tx_id, which the sealer keeps
-- summarised. Either way the rows themselves are checked (table and
-- record_pk), so a hash collision cannot add a stranger's row. Runs as the
-- caller: reading it needs SELECT on audit_log, as reading the log does. No
-- parallel workers: starting them costs more than the look-up.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_history(target regclass, pk jsonb) RETURNS SETOF audit_log
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET max_parallel_workers_per_gather = 0
AS $$
    SELECT l.*
    FROM @extschema@.audit_log l
    WHERE l.id IN (SELECT i.id FROM @extschema@.audit_record_index i
                   WHERE i.pk_hash = jsonb_hash_extended(pk, target::oid::bigint))
      AND l.table_oid = target AND l.record_pk = pk
    UNION ALL
    SELECT l.*
    FROM @extschema@.audit_log l
    WHERE l.tx_id >= coalesce((SELECT b.to_xid FROM @extschema@.audit_block b
                               WHERE b.id = (SELECT max(f.block_id) FROM @extschema@.audit_record_filed f)), 0)
      AND l.table_oid = target AND l.record_pk = pk
    ORDER BY 1
$$;

-- ---------------------------------------------------------------------------
-- DDL guard. A table owner who is not a superuser cannot quietly switch
-- auditing off: dropping lead_audit's triggers on an audited table, renaming
-- them, or disabling them (DISABLE TRIGGER, or ENABLE REPLICA TRIGGER, which
-- fires only on replicas), fails; audit_disable() is the way (it runs as the
-- extension's owner). And partitions created or attached later get their
-- TRUNCATE trigger, as audit_enable would have given them.
-- ---------------------------------------------------------------------------

-- Whether `rel` is an audited table or a partition of one.
CREATE FUNCTION _audit_is_audited(rel regclass) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM @extschema@.audit_table t
        WHERE t.relid = rel
           OR t.relid IN (SELECT relid FROM pg_partition_ancestors(rel)))
$$;

-- DDL on audited tables, recorded as audit rows (action 'DDL'). Called by
-- the event triggers; SECURITY DEFINER to reach _audit_append_ddl, which is
-- not granted to anyone, and safe to leave callable: each reads the command
-- list of the event being handled, and outside an event trigger there is
-- none (PostgreSQL raises).
CREATE FUNCTION _audit_record_altered(tag text) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT x.relid, string_agg(DISTINCT x.object_identity, ', ') AS objects
             FROM (SELECT CASE WHEN d.classid = 'pg_trigger'::regclass
                               THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = d.objid)
                               ELSE d.objid END AS relid,
                          d.object_identity
                   FROM pg_event_trigger_ddl_commands() d
                   WHERE (d.object_type IN ('table', 'table column') AND d.classid = 'pg_class'::regclass)
                      OR d.classid = 'pg_trigger'::regclass) x
             WHERE x.relid IS NOT NULL
             GROUP BY x.relid LOOP
        CONTINUE WHEN to_regclass(c.relid::regclass::text) IS NULL
                   OR NOT @extschema@._audit_is_audited(c.relid::regclass);
        PERFORM @extschema@._audit_append_ddl(c.relid, NULL, jsonb_build_object(
            'command', tag, 'objects', c.objects, 'statement', current_query())::text);
    END LOOP;
END;
$$;

CREATE FUNCTION _audit_record_dropped(tag text) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d   record;
    rel regclass;
BEGIN
    -- Audited tables dropped (their triggers went with them).
    FOR d IN SELECT o.objid, o.object_identity FROM pg_event_trigger_dropped_objects() o
             JOIN @extschema@.audit_table t ON t.relid::oid = o.objid
             WHERE o.object_type = 'table' LOOP
        PERFORM @extschema@._audit_append_ddl(d.objid, d.object_identity, jsonb_build_object(
            'command', tag, 'objects', d.object_identity, 'statement', current_query())::text);
    END LOOP;
    -- lead_audit's triggers dropped from a table that stays audited.
    FOR d IN SELECT o.object_identity FROM pg_event_trigger_dropped_objects() o
             WHERE o.object_type = 'trigger'
               AND (o.object_identity LIKE 'lead\_audit\_capture on %'
                    OR o.object_identity LIKE 'lead\_audit\_truncate on %') LOOP
        rel := to_regclass(substring(d.object_identity FROM ' on (.*)$'));
        CONTINUE WHEN rel IS NULL OR NOT @extschema@._audit_is_audited(rel);
        PERFORM @extschema@._audit_append_ddl(rel, NULL, jsonb_build_object(
            'command', tag, 'objects', d.object_identity, 'statement', current_query())::text);
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION _audit_append_ddl(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_ddl_quiet(boolean) FROM PUBLIC;

CREATE FUNCTION _audit_guard_alter() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cmd  record;
    trig record;
    part regclass;
    superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    -- lead_audit's triggers are known by the functions they run, not by their
    -- names: a renamed trigger is still ours.
    ours oid[] := ARRAY['@extschema@.audit_capture_row()'::regprocedure,
                        '@extschema@.audit_capture_truncate()'::regprocedure]::oid[];
BEGIN
    -- The tables the commands changed (ALTER TRIGGER names a trigger: its table).
    FOR cmd IN SELECT DISTINCT CASE WHEN d.classid = 'pg_trigger'::regclass
                                    THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = d.objid)
                                    ELSE d.objid END AS objid
               FROM pg_event_trigger_ddl_commands() d
               WHERE (d.object_type IN ('table', 'table column') AND d.classid = 'pg_class'::regclass)
                  OR d.classid = 'pg_trigger'::regclass LOOP
        CONTINUE WHEN cmd.objid IS NULL
                   OR to_regclass(cmd.objid::regclass::text) IS NULL
                   OR NOT @extschema@._audit_is_audited(cmd.objid::regclass);
        -- Triggers switched off or renamed?
        IF NOT superuser THEN
            SELECT t.tgname, t.tgrelid::regclass AS rel,
                   CASE WHEN t.tgenabled IN ('D', 'R') THEN 'disabled'
                        WHEN t.tgenabled = 'O' THEN 'limited to origin sessions (replica mode would skip it)'
                        ELSE 'renamed' END AS what
            INTO trig
            FROM pg_trigger t
            WHERE t.tgfoid = ANY (ours)
              AND (t.tgenabled <> 'A' OR t.tgname NOT IN ('lead_audit_capture', 'lead_audit_truncate'))
              AND t.tgrelid IN (SELECT cmd.objid UNION SELECT relid FROM pg_partition_tree(cmd.objid::regclass))
            ORDER BY t.tgrelid, t.tgname
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'lead_audit: trigger % on % may not be %', trig.tgname, trig.rel, trig.what
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'Stop auditing with audit_disable(), which a superuser grants.';
            END IF;
        END IF;
        -- New partitions: add the TRUNCATE trigger. (Checked per partition:
        -- the ALTER TABLE below runs this function again, which may have
        -- added it to the next partition already.)
        FOR part IN SELECT relid FROM pg_partition_tree(cmd.objid::regclass) LOOP
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger t
                                  WHERE t.tgrelid = part AND t.tgname = 'lead_audit_truncate');
            EXECUTE format('CREATE TRIGGER lead_audit_truncate BEFORE TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_capture_truncate()', part);
            EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER lead_audit_truncate', part);
        END LOOP;
    END LOOP;
    -- Allowed: recorded in the log, whoever did it.
    PERFORM @extschema@._audit_record_altered(TG_TAG);
END;
$$;

-- Settings of tables that no longer exist go (only those: it runs as the
-- extension's owner for any role that drops a table).
CREATE FUNCTION _audit_forget_dropped() RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM @extschema@.audit_table t
    WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.relid)
$$;

CREATE FUNCTION _audit_guard_drop() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    obj record;
    rel regclass;
BEGIN
    PERFORM @extschema@._audit_record_dropped(TG_TAG);
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
               JOIN @extschema@.audit_table t ON t.relid::oid = d.objid
               WHERE d.object_type = 'table') THEN
        PERFORM @extschema@._audit_forget_dropped();
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOR obj IN SELECT object_identity FROM pg_event_trigger_dropped_objects()
               WHERE object_type = 'trigger'
                 AND (object_identity LIKE 'lead\_audit\_capture on %' OR object_identity LIKE 'lead\_audit\_truncate on %') LOOP
        -- Dropped with its table (or the table left the audited tree): fine.
        rel := to_regclass(substring(obj.object_identity FROM ' on (.*)$'));
        CONTINUE WHEN rel IS NULL OR NOT @extschema@._audit_is_audited(rel);
        RAISE EXCEPTION 'lead_audit: trigger % may not be dropped while the table is audited', obj.object_identity
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Stop auditing with audit_disable(), which a superuser grants.';
    END LOOP;
END;
$$;

CREATE EVENT TRIGGER lead_audit_guard_alter ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER TRIGGER')
    EXECUTE FUNCTION _audit_guard_alter();
CREATE EVENT TRIGGER lead_audit_guard_drop ON sql_drop
    WHEN TAG IN ('DROP TRIGGER', 'ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION _audit_guard_drop();
