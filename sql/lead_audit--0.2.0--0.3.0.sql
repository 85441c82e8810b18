-- lead_audit 0.2.0 -> 0.3.0
--
-- 0.3.0 builds for PostgreSQL 14 to 18 and:
-- - keeps one capture trigger per table, so that a partition audited on its
--   own can be attached to an audited table (and an audited table's parent
--   audited) instead of failing with 42710: audit_enable and audit_disable
--   hand the row triggers between a partition and its audited ancestors, and
--   an event trigger does so around ATTACH and DETACH PARTITION;
-- - audits tables without a primary key: their records are named by the
--   replica identity index, else by the whole row (_audit_record_key, which
--   DDL rows and audit_tables show); history, as-of and revert refuse the
--   latter with 55000;
-- - writes the options' defaults and the stamp roles once, in Rust
--   (_audit_option_defaults, _audit_stamp_roles), for audit_enable;
-- - keeps a Merkle tree (RFC 9162) over every sealed row, with signed
--   checkpoints, witnesses' cosignatures, receipts and consistency proofs in
--   the C2SP transparency-log formats; the blocks sealed before enter it.
-- The audit rows, the canonical forms and the ledger are unchanged: logs and
-- digests of 0.2.0 keep verifying as they are.
--
-- tests/upgrade/run.sh checks that an upgraded database has exactly the
-- objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION lead_audit UPDATE" to load this file. \quit

-- What names a table's records in record_pk, as the capture trigger
-- chooses it (src/capture/table.rs, KeySource): 'primary key'; else 'replica
-- identity' (REPLICA IDENTITY USING INDEX); else 'full row' (the whole row as
-- recorded, as REPLICA IDENTITY FULL sends it).
CREATE FUNCTION _audit_record_key(target regclass) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = target AND i.indisprimary)
                THEN 'primary key'
                WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
                             WHERE c.oid = target AND c.relreplident = 'i' AND i.indisreplident)
                THEN 'replica identity'
                ELSE 'full row' END
$$;


-- History, as-of and revert follow a record by its key: a table whose
-- records are named by their whole row has none that lasts (55000).
CREATE FUNCTION _audit_no_stable_key(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'lead_audit: % has no primary key and no replica identity index: its records have no key that lasts', target
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'Its changes are recorded with their whole old row as record_pk; audit_changes() and audit_log list them.',
              HINT = format('Add a primary key (or ALTER TABLE %s REPLICA IDENTITY USING INDEX ...) for history, as-of and revert of its later changes.', target);
END;
$$;


CREATE OR REPLACE VIEW audit_tables AS
SELECT t.relid AS table_name,
       t.soft_delete_column,
       t.truncate_rows,
       t.exclude,
       t.redact,
       t.full_rows,
       t.stamp,
       t.stamp_columns,
       t.enabled_at,
       t.enabled_by,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
               WHERE g.tgrelid OPERATOR(pg_catalog.=) t.relid
                 AND g.tgname OPERATOR(pg_catalog.=) 'lead_audit_capture'
                 AND g.tgenabled OPERATOR(pg_catalog.=) 'A') AS capturing,
       @extschema@._audit_record_key(t.relid) AS record_key
FROM @extschema@.audit_table t;

-- The options' defaults and the stamp option's roles are written once, in
-- Rust (src/capture/table.rs), and audit_enable reads them from there:
-- audit_table's option columns lose their column defaults, a second copy
-- (audit_enable always gives every option).
CREATE FUNCTION "_audit_option_defaults"() RETURNS jsonb /* pgrx :: JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'option_defaults_wrapper';
CREATE FUNCTION "_audit_stamp_roles"() RETURNS TEXT[] /* Vec < & '_ str > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'stamp_roles_wrapper';
ALTER TABLE audit_table
    ALTER COLUMN truncate_rows DROP DEFAULT,
    ALTER COLUMN exclude DROP DEFAULT,
    ALTER COLUMN redact DROP DEFAULT,
    ALTER COLUMN full_rows DROP DEFAULT,
    ALTER COLUMN stamp DROP DEFAULT,
    ALTER COLUMN stamp_columns DROP DEFAULT;

CREATE OR REPLACE FUNCTION audit_enable(
    target regclass,
    soft_delete_column name DEFAULT NULL,
    truncate_rows boolean DEFAULT NULL,
    exclude text[] DEFAULT NULL,
    redact text[] DEFAULT NULL,
    full_rows boolean DEFAULT NULL,
    baseline boolean DEFAULT false,
    stamp boolean DEFAULT NULL,
    stamp_columns jsonb DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel        record;
    old        @extschema@.audit_table;
    soft_col   name;
    soft_type  regtype;
    part       regclass;
    opt        record;
    bad        text;
    snapshots  bigint := 0;
    role       text;
    col        name;
    stamped    text[] := '{}';
    -- The options' defaults and the stamp roles, written once (src/capture/table.rs).
    defaults   jsonb := @extschema@._audit_option_defaults();
    roles      text[] := @extschema@._audit_stamp_roles();
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_enable() needs a table, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF baseline IS NULL THEN
        RAISE EXCEPTION 'lead_audit: baseline must be true or false, got NULL'
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
                  '@extschema@.audit_record_filed'::regclass, '@extschema@.audit_secret'::regclass) THEN
        RAISE EXCEPTION 'lead_audit: % cannot audit itself', target
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A table without a primary key is audited too: its records are named
    -- by its replica identity index, else by their whole row
    -- (_audit_record_key; every DDL row of the table says which).

    -- Writers wait from here until this transaction ends (CREATE TRIGGER
    -- would take this lock anyway): no change can fall between the options,
    -- the trigger and the baseline.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', target);
    SELECT * INTO old FROM @extschema@.audit_table t WHERE t.relid = target;

    -- The soft-delete column: named, none (''), kept, or detected.
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
    ELSIF old.relid IS NOT NULL THEN
        soft_col := old.soft_delete_column;
    ELSE
        SELECT a.attname INTO soft_col
        FROM pg_attribute a
        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
          AND ((a.attname = 'is_deleted' AND a.atttypid = 'boolean'::regtype)
            OR (a.attname = 'deleted_at' AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)))
        ORDER BY a.attname = 'is_deleted' DESC
        LIMIT 1;
    END IF;

    -- The other options: given, kept, or their defaults; each list sorted
    -- and without duplicates.
    truncate_rows := coalesce(truncate_rows, old.truncate_rows, (defaults ->> 'truncate_rows')::boolean);
    full_rows := coalesce(full_rows, old.full_rows, (defaults ->> 'full_rows')::boolean);
    exclude := coalesce(exclude, old.exclude, ARRAY(SELECT jsonb_array_elements_text(defaults -> 'exclude')));
    redact := coalesce(redact, old.redact, ARRAY(SELECT jsonb_array_elements_text(defaults -> 'redact')));
    IF array_position(exclude, NULL) IS NOT NULL OR array_position(redact, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'lead_audit: exclude and redact name columns, and a name cannot be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    exclude := ARRAY(SELECT DISTINCT x FROM unnest(exclude) x ORDER BY x);
    redact := ARRAY(SELECT DISTINCT x FROM unnest(redact) x ORDER BY x);
    FOR opt IN SELECT 'exclude' AS name, x AS col FROM unnest(exclude) x
               UNION ALL SELECT 'redact', x FROM unnest(redact) x LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = target AND a.attname = opt.col
                       AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'lead_audit: table % has no column "%" (in %)', target, opt.col, opt.name
                USING ERRCODE = 'undefined_column';
        END IF;
        IF opt.col = soft_col THEN
            RAISE EXCEPTION 'lead_audit: the soft-delete column "%" of % cannot be in %', opt.col, target, opt.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Soft deletes and restores are recorded from its values.';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = target AND a.attname = opt.col
                     AND CASE @extschema@._audit_record_key(target) WHEN 'primary key' THEN i.indisprimary
                                                                    WHEN 'replica identity' THEN i.indisreplident
                                                                    ELSE false END) THEN
            RAISE EXCEPTION 'lead_audit: the % column "%" of % cannot be in %',
                @extschema@._audit_record_key(target), opt.col, target, opt.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Every audit row names its record by the %s, in clear.', @extschema@._audit_record_key(target));
        END IF;
    END LOOP;
    SELECT string_agg(format('"%s"', x), ', ') INTO bad FROM unnest(exclude) x WHERE x = ANY(redact);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'lead_audit: % of % cannot be both excluded and redacted', bad, target
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Bookkeeping columns: the mapped names exist, the times are times.
    stamp := coalesce(stamp, old.stamp, (defaults ->> 'stamp')::boolean);
    stamp_columns := coalesce(stamp_columns, old.stamp_columns, defaults -> 'stamp_columns');
    IF jsonb_typeof(stamp_columns) <> 'object' THEN
        RAISE EXCEPTION 'lead_audit: stamp_columns must be a JSON object of role: column name, got %', stamp_columns
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(stamp_columns) k
    WHERE k <> ALL (roles);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'lead_audit: stamp_columns has unknown roles: %', bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('The roles are %s and %s.', array_to_string(roles[1:cardinality(roles) - 1], ', '), roles[cardinality(roles)]);
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_each(stamp_columns) e WHERE jsonb_typeof(e.value) <> 'string') THEN
        RAISE EXCEPTION 'lead_audit: stamp_columns maps each role to a column name (a string), got %', stamp_columns
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR role, col IN SELECT r, coalesce(stamp_columns ->> r, r) FROM unnest(roles) r LOOP
        SELECT a.atttypid::regtype INTO soft_type FROM pg_attribute a
        WHERE a.attrelid = target AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            IF stamp_columns ? role THEN
                RAISE EXCEPTION 'lead_audit: table % has no column "%" (stamp_columns: %)', target, col, role
                    USING ERRCODE = 'undefined_column';
            END IF;
            CONTINUE;
        END IF;
        IF role LIKE '%\_at' AND soft_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
            RAISE EXCEPTION 'lead_audit: column "%" of % (%) is %, not a timestamp', col, target, role, soft_type
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        stamped := stamped || col::text;
    END LOOP;
    IF stamp AND cardinality(stamped) = 0 THEN
        RAISE EXCEPTION 'lead_audit: table % has none of the columns stamp fills', target
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add created_at, updated_at, created_by or updated_by columns, or name yours with stamp_columns.';
    END IF;

    IF cardinality(redact) > 0 THEN
        -- The key of the hashes, made once per database (32 random bytes).
        INSERT INTO @extschema@.audit_secret (secret)
        SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
        ON CONFLICT (only_row) DO NOTHING;
    END IF;

    INSERT INTO @extschema@.audit_table AS t (relid, soft_delete_column, truncate_rows, exclude, redact, full_rows,
                                              stamp, stamp_columns)
    VALUES (target, soft_col, audit_enable.truncate_rows, audit_enable.exclude, audit_enable.redact,
            audit_enable.full_rows, audit_enable.stamp, audit_enable.stamp_columns)
    ON CONFLICT (relid) DO UPDATE
        SET soft_delete_column = EXCLUDED.soft_delete_column,
            truncate_rows = EXCLUDED.truncate_rows,
            exclude = EXCLUDED.exclude,
            redact = EXCLUDED.redact,
            full_rows = EXCLUDED.full_rows,
            stamp = EXCLUDED.stamp,
            stamp_columns = EXCLUDED.stamp_columns;

    -- The row trigger on the table (PostgreSQL clones it onto partitions,
    -- present and future). One per table: partitions audited on their own
    -- give theirs up to the clones (their options still apply to their
    -- rows), and a partition already captured through an audited ancestor's
    -- clone keeps that one. This DDL is recorded once, as audit_enable, below.
    PERFORM @extschema@._audit_ddl_quiet(true);
    PERFORM @extschema@._audit_yield_triggers(target, false,
        CASE WHEN stamp THEN ARRAY['lead_audit_capture', 'lead_audit_stamp'] ELSE ARRAY['lead_audit_capture'] END);
    PERFORM @extschema@._audit_install_triggers(target, stamp);
    PERFORM @extschema@._audit_ddl_quiet(false);
    PERFORM @extschema@._audit_append_ddl(target, NULL, jsonb_build_object(
        'command', 'audit_enable', 'statement', current_query(),
        'options', @extschema@._audit_options(t.*),
        'previous', CASE WHEN old.relid IS NOT NULL THEN @extschema@._audit_options(old) END,
        'baseline', audit_enable.baseline,
        'key', @extschema@._audit_record_key(target),
        'columns', @extschema@._audit_columns(target))::text)
    FROM @extschema@.audit_table t WHERE t.relid = target;

    IF baseline THEN
        -- The table, or each partition, in the order of their names.
        FOR part IN SELECT p.relid FROM (SELECT target AS relid UNION SELECT t.relid FROM pg_partition_tree(target) t) p
                    ORDER BY p.relid::text LOOP
            snapshots := snapshots + @extschema@._audit_baseline(part);
        END LOOP;
    END IF;

    IF NOT @extschema@._audit_attempts_recorded() THEN
        RAISE NOTICE 'lead_audit: failed attempts on % will not be recorded', target
            USING DETAIL = 'lead_audit is not in shared_preload_libraries: committed changes are recorded, writes that fail leave no record.',
                  HINT = 'Add lead_audit to shared_preload_libraries and restart the server.';
    END IF;
    RETURN format('lead_audit: auditing %s (soft-delete column: %s, TRUNCATE records rows: %s%s%s%s%s%s)',
                  target, coalesce(soft_col::text, 'none'), audit_enable.truncate_rows,
                  CASE WHEN cardinality(exclude) > 0 THEN ', excluded: ' || array_to_string(exclude, ', ') ELSE '' END,
                  CASE WHEN cardinality(redact) > 0 THEN ', redacted: ' || array_to_string(redact, ', ') ELSE '' END,
                  CASE WHEN audit_enable.full_rows THEN ', full rows' ELSE '' END,
                  CASE WHEN stamp THEN ', stamping: ' || array_to_string(stamped, ', ') ELSE '' END,
                  CASE WHEN baseline THEN format(', baseline: %s rows', snapshots) ELSE '' END);
END;
$$;

CREATE OR REPLACE FUNCTION audit_disable(target regclass) RETURNS text
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
    -- Its own triggers only: a partition's clone of an audited ancestor's
    -- stays (the ancestor's options then apply to its rows).
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = 'lead_audit_capture' AND tgparentid = 0) THEN
        EXECUTE format('DROP TRIGGER lead_audit_capture ON %s', target);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = 'lead_audit_stamp' AND tgparentid = 0) THEN
        EXECUTE format('DROP TRIGGER lead_audit_stamp ON %s', target);
    END IF;
    -- The TRUNCATE triggers go too, unless the table stays audited through
    -- an audited ancestor. (Partitions audited on their own get theirs back
    -- below.)
    FOR part IN SELECT target UNION SELECT relid FROM pg_partition_tree(target) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_partition_ancestors(target) a
                       JOIN @extschema@.audit_table t ON t.relid = a.relid
                       WHERE a.relid <> target) THEN
            EXECUTE format('DROP TRIGGER IF EXISTS lead_audit_truncate ON %s', part);
        END IF;
        PERFORM @extschema@._audit_invalidate(part);
    END LOOP;
    PERFORM @extschema@._audit_ddl_quiet(false);
    PERFORM @extschema@._audit_append_ddl(target, NULL, jsonb_build_object(
        'command', 'audit_disable', 'statement', current_query())::text);
    DELETE FROM @extschema@.audit_table WHERE relid = target;
    -- Partitions below that are audited on their own get their triggers back.
    PERFORM @extschema@._audit_ddl_quiet(true);
    PERFORM @extschema@._audit_reclaim_triggers(target);
    PERFORM @extschema@._audit_ddl_quiet(false);
    RETURN format('lead_audit: stopped auditing %s', target);
END;
$$;

CREATE OR REPLACE FUNCTION audit_history(target regclass, pk jsonb) RETURNS SETOF audit_log
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

CREATE OR REPLACE FUNCTION audit_row_as_of(target regclass, pk jsonb, at timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    states jsonb := '{}';
    cols   jsonb;
    r      @extschema@.audit_log;
    ev     jsonb;
BEGIN
    IF target IS NULL OR pk IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_row_as_of() needs a table, a primary key and a time, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF @extschema@._audit_record_key(target) = 'full row' THEN
        PERFORM @extschema@._audit_no_stable_key(target);
    END IF;
    FOR r IN SELECT * FROM (SELECT * FROM @extschema@.audit_history(target, pk)
                            UNION ALL
                            SELECT * FROM @extschema@._audit_rows(target, NULL) e
                            WHERE e.table_oid = target) x
             WHERE x.logged_at <= at ORDER BY x.id LOOP
        IF r.record_pk IS NULL THEN
            ev := @extschema@._audit_replay_event(states, cols, r);
            states := ev -> 0;
            cols := ev -> 1;
        ELSE
            states := @extschema@._audit_replay_row(states, r);
        END IF;
    END LOOP;
    RETURN states -> pk::text;
END;
$$;

CREATE OR REPLACE FUNCTION audit_table_as_of(target regclass, at timestamptz) RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    events @extschema@.audit_log[];
    roots  jsonb := '{}';
    r      record;
    a      text;
    b      text;
    cur    text;
    states jsonb := '{}';
    cols   jsonb;
    e      int := 1;
    ev     jsonb;
BEGIN
    IF target IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'lead_audit: audit_table_as_of() needs a table and a time, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF @extschema@._audit_record_key(target) = 'full row' THEN
        PERFORM @extschema@._audit_no_stable_key(target);
    END IF;
    events := ARRAY(SELECT x FROM @extschema@._audit_rows(target, NULL) x
                    WHERE x.table_oid = target AND x.logged_at <= at ORDER BY x.id);
    -- Keys linked by key changes share one replay, named by its first key.
    FOR r IN SELECT @extschema@._audit_old_key(l.record_pk, l.old_values)::text AS old, l.record_pk::text AS new
             FROM @extschema@.audit_log l
             WHERE l.table_oid = ANY ((SELECT @extschema@._audit_tree(target))::oid[])
               AND l.action = 'UPDATE' AND l.logged_at <= at
               AND NOT (l.record_pk <@ (l.record_pk || l.old_values))
             ORDER BY l.id LOOP
        a := coalesce(roots ->> r.old, r.old);
        b := coalesce(roots ->> r.new, r.new);
        CONTINUE WHEN a = b;
        -- Everything named b now belongs to a.
        roots := (SELECT coalesce(jsonb_object_agg(k.key, CASE WHEN k.value #>> '{}' = b THEN to_jsonb(a) ELSE k.value END), '{}')
                  FROM jsonb_each(roots) k) || jsonb_build_object(b, a);
    END LOOP;
    FOR r IN SELECT x.row, x.replay
             FROM (SELECT l AS row, coalesce(roots ->> l.record_pk::text, l.record_pk::text) AS replay, l.id
                   FROM @extschema@.audit_log l
                   WHERE l.table_oid = ANY ((SELECT @extschema@._audit_tree(target))::oid[])
                     AND l.record_pk IS NOT NULL AND l.logged_at <= at
                   UNION ALL
                   SELECT NULL, NULL, NULL) AS x  -- an empty last row, that ends the last replay
             ORDER BY x.replay NULLS LAST, x.id LOOP
        IF cur IS DISTINCT FROM r.replay AND cur IS NOT NULL THEN
            -- A replay ends: the table's later events, then its records as they are.
            WHILE e <= cardinality(events) LOOP
                ev := @extschema@._audit_replay_event(states, cols, events[e]);
                states := ev -> 0; cols := ev -> 1; e := e + 1;
            END LOOP;
            RETURN QUERY SELECT s.value FROM jsonb_each(states) s;
        END IF;
        EXIT WHEN r.replay IS NULL;
        IF cur IS DISTINCT FROM r.replay THEN
            cur := r.replay; states := '{}'; cols := NULL; e := 1;
        END IF;
        WHILE e <= cardinality(events) AND events[e].id < (r.row).id LOOP
            ev := @extschema@._audit_replay_event(states, cols, events[e]);
            states := ev -> 0; cols := ev -> 1; e := e + 1;
        END LOOP;
        states := @extschema@._audit_replay_row(states, r.row);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION audit_revert(
    request_id text DEFAULT NULL,
    tx_id bigint DEFAULT NULL,
    force boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changes  @extschema@.audit_log[];
    ids      bigint[];
    r        @extschema@.audit_log;
    later    @extschema@.audit_log;
    tbl      regclass;
    root     regclass;
    before   jsonb;
    after    jsonb;
    cols     text;
    keycols  text;
    redacted text;
    n        bigint := 0;
    cnt      bigint;
    saved    text := current_setting('lead_audit.context', true);
BEGIN
    IF (audit_revert.request_id IS NULL) = (audit_revert.tx_id IS NULL) THEN
        RAISE EXCEPTION 'lead_audit: audit_revert() takes either a request_id or a tx_id'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF force IS NULL THEN
        RAISE EXCEPTION 'lead_audit: force must be true or false, got NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    changes := ARRAY(
        SELECT l FROM @extschema@.audit_log l
        WHERE (l.request_id = audit_revert.request_id OR l.tx_id = audit_revert.tx_id)
          AND l.action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
          AND l.record_pk IS NOT NULL
          AND l.outcome IS DISTINCT FROM 'failed'
        ORDER BY l.id DESC);
    IF cardinality(changes) = 0 THEN
        RAISE EXCEPTION 'lead_audit: no committed change of % % in the log',
            CASE WHEN audit_revert.request_id IS NOT NULL THEN 'request' ELSE 'transaction' END,
            coalesce(audit_revert.request_id, audit_revert.tx_id::text)
            USING ERRCODE = 'no_data_found';
    END IF;
    ids := ARRAY(SELECT (c).id FROM unnest(changes) c);
    FOREACH r IN ARRAY changes LOOP
        IF r.action = 'TRUNCATE' THEN
            RAISE EXCEPTION 'lead_audit: audit row % is a TRUNCATE, which audit_revert() does not undo', r.id
                USING ERRCODE = 'feature_not_supported';
        END IF;
        tbl := to_regclass(r.table_oid::regclass::text);
        IF tbl IS NULL THEN
            RAISE EXCEPTION 'lead_audit: audit row % is of table %, which no longer exists', r.id, r.table_name
                USING ERRCODE = 'undefined_table';
        END IF;
    IF @extschema@._audit_record_key(tbl) = 'full row' THEN
        PERFORM @extschema@._audit_no_stable_key(tbl);
    END IF;
        SELECT string_agg(format('"%s"', c.key), ', ') INTO redacted
        FROM jsonb_each(coalesce(r.old_values, '{}')) c
        WHERE c.key = ANY(coalesce((SELECT t.redact FROM @extschema@.audit_table t
                                    WHERE t.relid = tbl OR t.relid IN (SELECT relid FROM pg_partition_ancestors(tbl))
                                    LIMIT 1), '{}'))
          AND c.value #>> '{}' LIKE 'hmac-sha256:%';
        IF redacted IS NOT NULL THEN
            RAISE EXCEPTION 'lead_audit: audit row % changed the redacted column(s) %, whose old values are not in the log', r.id, redacted
                USING ERRCODE = 'feature_not_supported';
        END IF;
        CONTINUE WHEN force;
        -- A later change to the record (under the key it has after this row).
        SELECT * INTO later FROM @extschema@._audit_rows(tbl, r.record_pk) x
        WHERE x.id > r.id AND NOT x.id = ANY(ids) AND x.outcome IS DISTINCT FROM 'failed'
          AND x.action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
        ORDER BY x.id LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'lead_audit: cannot revert audit row %: audit row % changed the record % of % later',
                r.id, later.id, r.record_pk, r.table_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'audit_revert(..., force => true) reverts anyway, over the later change.';
        END IF;
    END LOOP;

    PERFORM set_config('lead_audit.context',
        (coalesce(nullif(saved, '')::jsonb, '{}') || jsonb_build_object('reverts', jsonb_strip_nulls(
            jsonb_build_object('request_id', audit_revert.request_id, 'tx_id', audit_revert.tx_id))))::text,
        true);
    FOREACH r IN ARRAY changes LOOP
        tbl := r.table_oid::regclass;
        -- Columns renamed or dropped since: the values under today's names.
        root := coalesce((SELECT a.relid FROM pg_partition_ancestors(tbl) a
                          WHERE a.relid IN (SELECT t.relid FROM @extschema@.audit_table t) LIMIT 1), tbl);
        SELECT x.new_values -> 'columns' INTO before
        FROM @extschema@._audit_rows(root, NULL) x
        WHERE x.table_oid = root AND x.action = 'DDL' AND x.new_values ? 'columns' AND x.id < r.id
        ORDER BY x.id DESC LIMIT 1;
        after := @extschema@._audit_columns(root);
        r.record_pk := @extschema@._audit_remap(r.record_pk, before, after, false);
        r.old_values := @extschema@._audit_remap(r.old_values, before, after, false);
        SELECT string_agg(quote_ident(k), ', ') INTO keycols FROM jsonb_object_keys(r.record_pk) k;
        IF r.action = 'INSERT' THEN
            EXECUTE format('DELETE FROM %s WHERE (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, $1))',
                           tbl, keycols, keycols, tbl) USING r.record_pk;
        ELSE
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
            FROM pg_attribute a
            WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
              AND r.old_values ? a.attname;
            IF cols IS NULL THEN
                RAISE EXCEPTION 'lead_audit: cannot revert audit row %: the columns it changed are gone', r.id
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            IF r.action = 'DELETE' THEN
                EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM jsonb_populate_record(NULL::%s, $1)',
                               tbl, cols, cols, tbl) USING r.old_values;
            ELSE
                EXECUTE format('UPDATE %s SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, $1)) '
                               'WHERE (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, $2))',
                               tbl, cols, cols, tbl, keycols, keycols, tbl) USING r.old_values, r.record_pk;
            END IF;
        END IF;
        GET DIAGNOSTICS cnt = ROW_COUNT;
        IF cnt <> 1 THEN
            RAISE EXCEPTION 'lead_audit: cannot revert audit row %: the record % of % is not there as that change left it',
                r.id, r.record_pk, r.table_name
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        n := n + 1;
    END LOOP;
    PERFORM set_config('lead_audit.context', coalesce(saved, ''), true);
    RETURN n;
END;
$$;

CREATE OR REPLACE FUNCTION _audit_record_altered(tag text) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c      record;
    before jsonb;
    after  jsonb;
    opts   @extschema@.audit_table;
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
        -- The columns before (from the table's last DDL row) and after: the
        -- exclude and redact options follow a renamed column, and forget a
        -- dropped one. (Looked up only for a table with such options: the
        -- look-up reads the rows not filed yet.)
        after := @extschema@._audit_columns(c.relid::regclass);
        before := NULL;
        IF EXISTS (SELECT 1 FROM @extschema@.audit_table t
                   WHERE t.relid = c.relid AND cardinality(t.exclude) + cardinality(t.redact) > 0) THEN
            SELECT x.new_values -> 'columns' INTO before
            FROM @extschema@._audit_rows(c.relid::regclass, NULL) x
            WHERE x.table_oid = c.relid AND x.action = 'DDL' AND x.new_values ? 'columns'
            ORDER BY x.id DESC LIMIT 1;
        END IF;
        UPDATE @extschema@.audit_table t
        SET exclude = @extschema@._audit_follow(t.exclude, before, after),
            redact = @extschema@._audit_follow(t.redact, before, after)
        WHERE t.relid = c.relid AND before IS NOT NULL
          AND (t.exclude, t.redact) IS DISTINCT FROM (@extschema@._audit_follow(t.exclude, before, after),
                                                      @extschema@._audit_follow(t.redact, before, after))
        RETURNING * INTO opts;
        IF FOUND THEN
            PERFORM @extschema@._audit_invalidate(c.relid);
        END IF;
        PERFORM @extschema@._audit_append_ddl(c.relid, NULL, (jsonb_build_object(
            'command', tag, 'objects', c.objects, 'statement', current_query(),
            'key', @extschema@._audit_record_key(c.relid::regclass), 'columns', after)
            || CASE WHEN opts.relid IS NOT NULL
                    THEN jsonb_build_object('options', @extschema@._audit_options(opts))
                    ELSE '{}' END)::text);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------
-- One capture trigger per table. PostgreSQL clones a partitioned table's row
-- triggers onto its partitions, under the same name, and refuses a clone
-- beside a trigger of that name. So a table is captured by its own
-- lead_audit_capture or by the clone of its nearest audited ancestor's,
-- never both: a table that joins an audited tree (ATTACH PARTITION, or
-- audit_enable on an ancestor) gives its own row triggers up to the clones,
-- and one that leaves it (DETACH PARTITION, audit_disable on the ancestor)
-- gets them back when it is audited on its own. Whose options apply to a
-- row: the table's own audit_enable options, else its nearest audited
-- ancestor's (sql/queries/table_settings.sql). Not granted to anyone: run by
-- audit_enable, audit_disable and _audit_partitions(), as the extension's
-- owner.
-- ---------------------------------------------------------------------------

-- lead_audit's triggers on `target`: the row trigger (unless an audited
-- ancestor's clone captures it already), the stamp trigger when `stamp`, and
-- the TRUNCATE trigger on it and each partition (TRUNCATE triggers are not
-- cloned). Each fires ALWAYS: also in replica mode (session_replication_role
-- = replica) and for changes applied by logical replication; but the stamp
-- trigger fires on the origin only (the default): rows that logical
-- replication applies keep the stamps their origin gave them. Run by
-- audit_enable and _audit_reclaim_triggers, as the extension's owner.
CREATE FUNCTION _audit_install_triggers(target regclass, stamp boolean) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part regclass;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = 'lead_audit_capture') THEN
        EXECUTE format('CREATE TRIGGER lead_audit_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_capture_row()', target);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = target AND tgname = 'lead_audit_capture' AND tgparentid = 0) THEN
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER lead_audit_capture', target);
    END IF;
    IF stamp AND NOT EXISTS (SELECT 1 FROM pg_trigger
                             WHERE tgrelid = target AND tgname = 'lead_audit_stamp') THEN
        EXECUTE format('CREATE TRIGGER lead_audit_stamp BEFORE INSERT OR UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_stamp_row()', target);
    ELSIF NOT stamp AND EXISTS (SELECT 1 FROM pg_trigger
                                WHERE tgrelid = target AND tgname = 'lead_audit_stamp' AND tgparentid = 0) THEN
        EXECUTE format('DROP TRIGGER lead_audit_stamp ON %s', target);
    END IF;
    FOR part IN SELECT target UNION SELECT relid FROM pg_partition_tree(target) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'lead_audit_truncate') THEN
            EXECUTE format('CREATE TRIGGER lead_audit_truncate BEFORE TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_capture_truncate()', part);
        END IF;
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER lead_audit_truncate', part);
        PERFORM @extschema@._audit_invalidate(part);
    END LOOP;
END;
$$;

-- Drops the own row triggers named in `names` of every table in the tree
-- under `target` (and of `target` itself when `with_target`).
CREATE FUNCTION _audit_yield_triggers(target regclass, with_target boolean, names text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT g.tgname, p.relid
             FROM (SELECT target AS relid, 0 AS level
                   UNION SELECT relid, level FROM pg_partition_tree(target)) p
             JOIN pg_trigger g ON g.tgrelid = p.relid
             WHERE g.tgname = ANY (names) AND g.tgparentid = 0
               AND (with_target OR p.relid <> target)
             ORDER BY p.level LOOP
        -- Gone already when an ancestor's (above it in this tree) went.
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_trigger g
                                  WHERE g.tgrelid = t.relid AND g.tgname = t.tgname AND g.tgparentid = 0);
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.relid);
        PERFORM @extschema@._audit_invalidate(t.relid);
    END LOOP;
END;
$$;

-- Gives their own triggers back to the tables in the tree under `target`
-- (itself included) that are audited on their own but captured by no
-- trigger, top down (a partitioned table's trigger is cloned onto the
-- partitions below it, which then need none of their own).
CREATE FUNCTION _audit_reclaim_triggers(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT a.relid, a.stamp
             FROM (SELECT target AS relid, 0 AS level
                   UNION SELECT relid, level FROM pg_partition_tree(target)) p
             JOIN @extschema@.audit_table a ON a.relid = p.relid
             ORDER BY p.level LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t.relid AND tgname = 'lead_audit_capture');
        PERFORM @extschema@._audit_install_triggers(t.relid, t.stamp);
    END LOOP;
END;
$$;

-- ALTER TABLE parent ATTACH PARTITION child, before it runs: when the parent
-- has lead_audit's row triggers (its own or an ancestor's clones), the
-- child's tree gives up its own triggers of those names to the clones the
-- command is about to make.
CREATE FUNCTION _audit_before_attach(parent regclass, child regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[];
BEGIN
    SELECT array_agg(g.tgname ORDER BY g.tgname) INTO names FROM pg_trigger g
    WHERE g.tgrelid = parent AND g.tgname IN ('lead_audit_capture', 'lead_audit_stamp');
    IF names IS NULL THEN
        RETURN;
    END IF;
    PERFORM @extschema@._audit_ddl_quiet(true);
    PERFORM @extschema@._audit_yield_triggers(child, true, names);
    PERFORM @extschema@._audit_ddl_quiet(false);
END;
$$;

-- ALTER TABLE parent DETACH PARTITION child, once it ran: the clones left
-- with it.
CREATE FUNCTION _audit_after_detach(child regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._audit_ddl_quiet(true);
    PERFORM @extschema@._audit_reclaim_triggers(child);
    PERFORM @extschema@._audit_ddl_quiet(false);
END;
$$;

REVOKE ALL ON FUNCTION _audit_install_triggers(regclass, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_yield_triggers(regclass, boolean, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_reclaim_triggers(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_before_attach(regclass, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_after_detach(regclass) FROM PUBLIC;

-- The event trigger (src/events/partitions.rs): it reads the command's parse
-- tree, the one place that names the partition before the command runs.
-- SECURITY DEFINER: a table owner who is not a superuser may not drop
-- lead_audit's triggers (the DDL guard), but attaching a partition must.
CREATE FUNCTION _audit_partitions() RETURNS event_trigger
LANGUAGE c SECURITY DEFINER AS 'MODULE_PATHNAME', 'audit_partitions_wrapper';
CREATE EVENT TRIGGER lead_audit_partitions_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION _audit_partitions();
CREATE EVENT TRIGGER lead_audit_partitions_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION _audit_partitions();

-- ---------------------------------------------------------------------------
-- The Merkle tree (RFC 9162) over every sealed row, its signed checkpoints
-- (C2SP tlog-checkpoint, signed-note), witnesses' cosignatures and receipts
-- (C2SP tlog-proof). The blocks sealed before enter the tree at the end of
-- this script, in the same order as sealing goes on; the blocks, their
-- hashes and every digest kept before are untouched.
-- ---------------------------------------------------------------------------
-- The Merkle tree of RFC 9162 over every sealed audit row (since 0.3.0), in
-- seal order: block by block, and within a block in the order of its
-- row_ids; a leaf's entry is the row's 32-byte checksum, hashed as
-- SHA-256(0x00 || checksum). For each block, the tree's size and root once
-- its rows are in, and its frontier (the hashes of the maximal complete
-- subtrees, one per set bit of the size), from which the next block is
-- appended; a block's leaves are [tree_size - row_count, tree_size).
CREATE TABLE audit_tree (
    block_id  bigint NOT NULL PRIMARY KEY,
    tree_size bigint NOT NULL UNIQUE,
    root      bytea  NOT NULL,
    frontier  bytea  NOT NULL
);

COMMENT ON TABLE audit_tree IS 'lead_audit: the Merkle tree''s size and root after each block';

-- The hash of every complete subtree of 256, 65,536, ... leaves (levels 8,
-- 16, ...; index: the subtree's leaves start at index * 2^level): with the
-- blocks' checksums, all a proof needs (the layout of C2SP tlog-tiles).
CREATE TABLE audit_tree_node (
    level smallint NOT NULL,
    index bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, index)
);

COMMENT ON TABLE audit_tree_node IS 'lead_audit: the Merkle tree''s complete subtrees of 256^k leaves';

-- The checkpoints (C2SP tlog-checkpoint) signed after each seal, as signed
-- notes (C2SP signed-note): the origin, the tree size and root, and the
-- log's Ed25519 signature.
CREATE TABLE audit_checkpoint (
    tree_size bigint      NOT NULL PRIMARY KEY,
    signed_at timestamptz NOT NULL DEFAULT now(),
    note      text        NOT NULL
);

COMMENT ON TABLE audit_checkpoint IS 'lead_audit: the signed checkpoints of the Merkle tree';

-- Witnesses' cosignatures (C2SP tlog-cosignature) of a checkpoint: one note
-- signature line each, as a witness returned it.
CREATE TABLE audit_cosignature (
    tree_size bigint      NOT NULL,
    signature text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tree_size, signature)
);

COMMENT ON TABLE audit_cosignature IS 'lead_audit: witnesses'' cosignatures of the checkpoints';

CREATE TRIGGER audit_tree_append_only
    BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_no_truncate
    BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_node_append_only
    BEFORE UPDATE OR DELETE ON audit_tree_node
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_node_no_truncate
    BEFORE TRUNCATE ON audit_tree_node
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate
    BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_cosignature_append_only
    BEFORE UPDATE OR DELETE ON audit_cosignature
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_cosignature_no_truncate
    BEFORE TRUNCATE ON audit_cosignature
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();

SELECT pg_catalog.pg_extension_config_dump('audit_tree', '');
SELECT pg_catalog.pg_extension_config_dump('audit_tree_node', '');
SELECT pg_catalog.pg_extension_config_dump('audit_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('audit_cosignature', '');
REVOKE ALL ON audit_tree, audit_tree_node, audit_checkpoint, audit_cosignature FROM PUBLIC;
GRANT SELECT ON audit_tree, audit_tree_node, audit_checkpoint, audit_cosignature TO PUBLIC;

CREATE FUNCTION "_audit_tree_extend"() RETURNS bigint /* i64 */
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'tree_extend_wrapper';
CREATE FUNCTION "audit_consistency"(
	"old_size" bigint, /* Option < i64 > */
	"new_size" bigint /* Option < i64 > */
) RETURNS bytea[] /* Vec < Vec < u8 > > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_consistency_wrapper';
CREATE FUNCTION "audit_checkpoint"() RETURNS TEXT /* String */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_checkpoint_wrapper';
CREATE FUNCTION "audit_verifier_key"() RETURNS TEXT /* String */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_verifier_key_wrapper';
CREATE FUNCTION "audit_tree_head"() RETURNS TEXT /* Option < String > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_tree_head_wrapper';
CREATE FUNCTION "audit_add_checkpoint"(
	"note" TEXT /* Option < & str > */
) RETURNS bigint /* i64 */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_add_checkpoint_wrapper';
CREATE FUNCTION "audit_add_cosignatures"(
	"cosigned" TEXT /* Option < & str > */
) RETURNS bigint /* i64 */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_add_cosignatures_wrapper';
CREATE FUNCTION "audit_proof"(
	"audit_id" bigint /* Option < i64 > */
) RETURNS TEXT /* String */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'audit_proof_wrapper';
-- ---------------------------------------------------------------------------
-- The tree (RFC 9162) and its checkpoints (C2SP), written in Rust:
-- audit_proof(audit_id) a receipt (tlog-proof) for one row; audit_consistency
-- (old_size, new_size) a consistency proof; audit_checkpoint() the newest
-- signed checkpoint with its cosignatures; audit_verifier_key() the log's
-- public key; audit_tree_head() the newest head, unsigned, for a signer
-- outside the database. Storing what comes from outside, and appending the
-- tree, are for the extension's owner and whom it grants them to.
-- ---------------------------------------------------------------------------
REVOKE ALL ON FUNCTION _audit_tree_extend() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_add_checkpoint(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_add_cosignatures(text) FROM PUBLIC;

CREATE FUNCTION "_audit_verify_checkpoint"(
	"note" TEXT /* & str */
) RETURNS TABLE (
	"status" TEXT,  /* String */
	"audit_id" bigint,  /* Option < i64 > */
	"detail" TEXT,  /* String */
	"block_id" bigint  /* Option < i64 > */
)
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'verify_checkpoint_wrapper';

-- ---------------------------------------------------------------------------
-- verify_audit(checkpoint text): a signed checkpoint kept from
-- audit_checkpoint() (since 0.3.0): the whole log is verified, its Merkle
-- tree rebuilt from the sealed rows, and it must still extend that
-- checkpoint (_audit_verify_checkpoint). A text without a signed note's
-- blank line is read as today's JSON digest, so verify_audit('{...}') keeps
-- working, and verify_audit(NULL) verifies without either.
-- ---------------------------------------------------------------------------
CREATE FUNCTION verify_audit(checkpoint text)
RETURNS TABLE(status text, audit_id bigint, detail text, block_id bigint)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF checkpoint IS NULL OR position(E'\n\n' IN checkpoint) = 0 THEN
        RETURN QUERY SELECT * FROM @extschema@.verify_audit(checkpoint::jsonb);
    ELSE
        RETURN QUERY SELECT * FROM @extschema@._audit_verify_checkpoint(checkpoint);
    END IF;
END;
$$;

-- The sealers' advisory lock, its key written once (src/ledger/seal.rs):
-- audit_index_history takes it through _audit_seal_lock().
CREATE FUNCTION "_audit_seal_lock"() RETURNS void
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'seal_lock_wrapper';
REVOKE ALL ON FUNCTION _audit_seal_lock() FROM PUBLIC;
CREATE OR REPLACE FUNCTION audit_index_history(max_blocks integer DEFAULT NULL) RETURNS bigint
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

-- Every block sealed so far enters the tree (under the sealers' lock).
SELECT _audit_tree_extend();
