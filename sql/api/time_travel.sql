-- lead_audit's SQL API: time travel: a record or a table as it was, and the changes in a window.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- Time travel. A record's state is rebuilt by replaying its rows in id
-- order: INSERT and SNAPSHOT give the row, an UPDATE lays its new values
-- over it, DELETE and TRUNCATE end it; a key change carries the state to the
-- new key. The table's DDL rows rename, drop and add columns (each records
-- the table's columns after it, by attnum), and a TRUNCATE that did not
-- record its rows ends every record. Failed attempts change nothing. The
-- events are the table's own (on a partitioned table, those of the root: a
-- partition's TRUNCATE records its rows, with truncate_rows).
-- `states` maps each record's key (as jsonb text) to its state.
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_replay_row(states jsonb, r audit_log) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k   text := r.record_pk::text;
    old jsonb;
BEGIN
    IF r.record_pk IS NULL OR r.outcome = 'failed' THEN
        RETURN states;
    END IF;
    CASE r.action
    WHEN 'INSERT', 'SNAPSHOT' THEN
        RETURN states || jsonb_build_object(k, r.new_values);
    WHEN 'UPDATE' THEN
        IF NOT (r.record_pk <@ (r.record_pk || r.old_values)) THEN  -- the key changed
            old := @extschema@._audit_old_key(r.record_pk, r.old_values);
            RETURN (states - old::text)
                || jsonb_build_object(k, coalesce(states -> old::text, '{}') || r.new_values);
        END IF;
        RETURN states || jsonb_build_object(k, coalesce(states -> k, '{}') || r.new_values);
    WHEN 'DELETE', 'TRUNCATE' THEN
        RETURN states - k;
    ELSE
        RETURN states;
    END CASE;
END;
$$;

-- A table event: returns [states, columns] after it.
CREATE FUNCTION _audit_replay_event(states jsonb, cols jsonb, r audit_log) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    after jsonb;
BEGIN
    IF r.action = 'TRUNCATE' AND r.outcome IS DISTINCT FROM 'failed' THEN
        RETURN jsonb_build_array('{}'::jsonb, cols);
    END IF;
    IF r.action <> 'DDL' OR NOT coalesce(r.new_values ? 'columns', false) THEN
        RETURN jsonb_build_array(states, cols);
    END IF;
    after := r.new_values -> 'columns';
    IF cols IS NULL THEN
        RETURN jsonb_build_array(states, after);
    END IF;
    RETURN jsonb_build_array(
        coalesce((SELECT jsonb_object_agg(s.key, @extschema@._audit_remap(s.value, cols, after, true))
                  FROM jsonb_each(states) s), '{}'),
        after);
END;
$$;

-- A JSON object by column name (a record's state, or an audit row's values)
-- under the table's columns `after`, from the columns `before` (each a DDL
-- row's list, by attnum): renamed columns keep their values under their new
-- names, dropped ones go, and with `added` the columns added since appear
-- with the value rows got when they were added. As it is when `before` is
-- unknown.
CREATE FUNCTION _audit_remap(vals jsonb, before jsonb, after jsonb, added boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN before IS NULL OR vals IS NULL THEN vals ELSE
        (SELECT coalesce(jsonb_object_agg(a.name, CASE WHEN b.name IS NULL THEN coalesce(a.missing, 'null')
                                                       ELSE vals -> b.name END)
                             FILTER (WHERE (b.name IS NULL AND added) OR vals ? b.name), '{}')
         FROM jsonb_to_recordset(after) AS a (attnum int, name text, missing jsonb)
         LEFT JOIN jsonb_to_recordset(before) AS b (attnum int, name text) ON b.attnum = a.attnum)
    END
$$;

-- ---------------------------------------------------------------------------
-- audit_row_as_of(table, pk, at): the record as it was at `at` (by the rows'
-- logged_at, the start of the statement that made each change), as jsonb;
-- NULL when it did not exist then. Columns excluded from the log are not in
-- it; redacted ones hold their hashes.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_row_as_of(target regclass, pk jsonb, at timestamptz) RETURNS jsonb
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

-- ---------------------------------------------------------------------------
-- audit_table_as_of(table, at): every record of the table as it was at `at`
-- (SETOF jsonb, one per record that existed then). Reads every row the log
-- holds for the table up to then: records are replayed one after another
-- (records linked by key changes together), each with the table's events.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_table_as_of(target regclass, at timestamptz) RETURNS SETOF jsonb
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

-- ---------------------------------------------------------------------------
-- audit_changes(table, since, until, actor_id, request_id): the rows logged
-- in [since, until) for a table and its partitions (NULL: every table),
-- optionally only one actor's or one request's, in id order. Found through
-- the BRIN index on logged_at.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_changes(
    target regclass,
    since timestamptz,
    until timestamptz DEFAULT NULL,
    actor_id text DEFAULT NULL,
    request_id text DEFAULT NULL
) RETURNS SETOF audit_log
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.*
    FROM @extschema@.audit_log l
    WHERE l.logged_at >= since
      AND (until IS NULL OR l.logged_at < until)
      AND (target IS NULL
           OR l.table_oid = ANY ((SELECT @extschema@._audit_tree(target))::oid[]))
      AND (audit_changes.actor_id IS NULL OR l.actor_id = audit_changes.actor_id)
      AND (audit_changes.request_id IS NULL OR l.request_id = audit_changes.request_id)
    ORDER BY l.id
$$;
