-- lead_audit's SQL API: audit_revert: undoing a request's or a transaction's changes.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- audit_revert(request_id | tx_id, force): undoes the committed changes of
-- one request (lead_audit.request_id) or one transaction (tx_id as the log
-- has it), newest first, as new writes made by the caller, with the caller's
-- privileges, all in the caller's transaction: each is audited like any
-- write, with `{"reverts": {...}}` added to the context. Refuses (55000)
-- when a later change touched one of those records, unless force; refuses
-- (0A000) a TRUNCATE, or a change to a redacted column (its old value is
-- not in the log). Returns how many changes it undid.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_revert(
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
