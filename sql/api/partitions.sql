-- lead_audit's SQL API: which trigger captures a table: its own, or an audited ancestor's clone.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

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
