-- lead_audit's SQL API: DDL on audited tables: recorded, and guarded.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

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

-- Column names of an option, after a DDL command took the table's columns
-- from `before` to `after` (by attnum): a renamed column keeps its place
-- under its new name, a dropped one leaves; a name `before` does not know
-- stays as it is.
CREATE FUNCTION _audit_follow(names text[], before jsonb, after jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT CASE WHEN b.attnum IS NULL THEN n ELSE a.name END)
                        FILTER (WHERE b.attnum IS NULL OR a.name IS NOT NULL), '{}')
    FROM unnest(names) AS n
    LEFT JOIN jsonb_to_recordset(before) AS b (attnum int, name text) ON b.name = n
    LEFT JOIN jsonb_to_recordset(after) AS a (attnum int, name text) ON a.attnum = b.attnum
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
