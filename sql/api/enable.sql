-- lead_audit's SQL API: turning auditing on and off: audit_enable, audit_disable, audit_tables.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- audit_enable(table, options...): starts auditing a table, or changes its
-- options. Options not given keep their values (on a first call, their
-- defaults); every call is itself recorded in the log (a DDL row with the
-- options before and after).
--   soft_delete_column: NULL detects a boolean "is_deleted" or a timestamp
--     "deleted_at" column (first call); '' means the table has none.
--   truncate_rows: TRUNCATE also records every removed row (default true).
--   exclude: columns never recorded; an UPDATE of those alone writes nothing.
--   redact: columns recorded as a keyed hash (see _audit_secret()).
--   full_rows: an UPDATE records the whole old and new row (default false).
--   baseline: records one SNAPSHOT row per row present now (default false).
--   stamp: a BEFORE row trigger fills the table's created_at, updated_at,
--     created_by, updated_by, deleted_at and deleted_by columns where they
--     exist (default false); stamp_columns maps those names to the table's
--     own, e.g. '{"created_by": "author_id"}'.
-- Calling it again also adds the TRUNCATE trigger to partitions created since.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_enable(
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

-- A table's options as audit_enable takes them (for the log and audit_tables).
CREATE FUNCTION _audit_options(t @extschema@.audit_table) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('soft_delete_column', t.soft_delete_column, 'truncate_rows', t.truncate_rows,
                              'exclude', to_jsonb(t.exclude), 'redact', to_jsonb(t.redact),
                              'full_rows', t.full_rows, 'stamp', t.stamp, 'stamp_columns', t.stamp_columns)
$$;

-- A table's live columns, in order: attnum, name, and the value rows that
-- were there before ADD COLUMN got (its non-volatile default, when there is
-- one). Recorded with every DDL row, so that audit_row_as_of() can follow
-- renamed, dropped and added columns.
CREATE FUNCTION _audit_columns(target regclass) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- (The missing value is rendered by output functions only: this runs in
    -- SECURITY DEFINER code, where a type's input function or a domain's
    -- check must not run.)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'attnum', a.attnum, 'name', a.attname,
               'missing', CASE WHEN a.atthasmissing THEN array_to_json(a.attmissingval)::jsonb -> 0 END))
               ORDER BY a.attnum), '[]')
    FROM pg_attribute a
    WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- The redaction key, for the capture triggers (which run as the writing
-- role, and fetch it through the function manager, which checks no EXECUTE
-- privilege): an empty bytea when there is none.
CREATE FUNCTION _audit_secret() RETURNS bytea
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT s.secret FROM @extschema@.audit_secret s), ''::bytea)
$$;

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

-- The audited tables and their options.
CREATE VIEW audit_tables AS
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

COMMENT ON VIEW audit_tables IS 'lead_audit: the audited tables and their options';
GRANT SELECT ON audit_tables TO PUBLIC;

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

-- Turning auditing on or off is for table owners and superusers, and only
-- through roles granted EXECUTE explicitly.
REVOKE ALL ON FUNCTION audit_enable(regclass, name, boolean, text[], text[], boolean, boolean, boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_secret() FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_baseline(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_disable(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION _audit_invalidate(oid) FROM PUBLIC;
